// train_in_memory: kiln's trainer on data that lives in your own program.
//
// kiln::nn consumes batches through one small interface, nn::BatchSource. kiln's own pipeline
// implements it by streaming HDF5 through a TBB flow graph; here we implement it over a vector,
// to show the seam. The problem: points in 2-D, labelled by the quadrant they fall in.
#include <array>
#include <cstdio>
#include <vector>

#include "nn/batch_source.hpp"
#include "nn/model/model.hpp"
#include "nn/random.hpp"
#include "nn/training/optimizer.hpp"
#include "nn/training/trainer.hpp"

namespace {

// A BatchSource has to say what one sample looks like, how many there are, and then hand out
// batches of an epoch in order until it returns false.
class QuadrantSource final : public kiln::nn::BatchSource {
 public:
  explicit QuadrantSource(std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) {
      // Every random draw in kiln has an address: (seed, epoch/step, index, slot).
      kiln::nn::Rng rng({2024, 0, static_cast<std::uint64_t>(i), 1});
      const float x = rng.uniform(-1.f, 1.f), y = rng.uniform(-1.f, 1.f);
      points_.push_back({x, y});
      labels_.push_back((x > 0 ? 1 : 0) + (y > 0 ? 2 : 0));
    }
  }
  kiln::nn::Shape sample_shape() const override { return {1, 2, 1, 1}; }
  std::int64_t num_samples() const override { return static_cast<std::int64_t>(labels_.size()); }
  void start_epoch(std::uint64_t) override { next_ = 0; }
  bool next(kiln::nn::Batch& batch) override {
    const auto n = static_cast<std::size_t>(num_samples());
    if (next_ >= n) return false;
    const std::size_t rows = std::min<std::size_t>(32, n - next_);
    batch.inputs.resize({static_cast<std::int64_t>(rows), 2, 1, 1});  // (N, C, H, W)
    batch.labels.assign(labels_.begin() + next_, labels_.begin() + next_ + rows);
    batch.indices.clear();
    for (std::size_t r = 0; r < rows; ++r) {
      batch.inputs[static_cast<std::int64_t>(2 * r)] = points_[next_ + r][0];
      batch.inputs[static_cast<std::int64_t>(2 * r + 1)] = points_[next_ + r][1];
      batch.indices.push_back(next_ + r);
    }
    next_ += rows;
    return true;
  }

 private:
  std::vector<std::array<float, 2>> points_;
  std::vector<std::int32_t> labels_;
  std::size_t next_ = 0;
};

}  // namespace

int main() {
  using namespace kiln;
  // A model is a JSON config: the per-sample input shape (C, H, W) and a list of layers.
  nn::Model model = nn::Model::from_config({
      {"input", {2, 1, 1}},
      {"layers",
       {{{"type", "dense"}, {"units", 32}}, {{"type", "relu"}}, {{"type", "dense"}, {"units", 4}}}},
  });
  model.initialize(/*seed=*/1);
  std::printf("%s", model.summary().c_str());

  QuadrantSource train(2000), test(500);
  nn::Sgd sgd(/*momentum=*/0.9f, /*nesterov=*/false);
  nn::TrainState state;
  state.seed = 1;
  state.learning_rate = 0.05f;
  nn::Trainer::fit(model, sgd, train, state, /*epochs=*/10, {.batch_size = 32});

  const nn::EvalResult result = nn::Trainer::evaluate(model, test);
  std::printf("test accuracy %.3f, loss %.4f\n", result.accuracy, result.loss);
  return result.accuracy > 0.9 ? 0 : 1;
}
