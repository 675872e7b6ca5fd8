// Diagnostics: figures checked by hand on a small network, warnings on sick ones, and no effect on
// training at all.
#include <gtest/gtest.h>

#include <cmath>

#include "nn/callbacks/diagnostics.hpp"
#include "nn/loss.hpp"
#include "nn/model/model.hpp"
#include "nn/random.hpp"
#include "nn/training/optimizer.hpp"
#include "nn/training/trainer.hpp"

namespace kiln::nn {
namespace {

// 4-feature samples of 3 classes, 8 to a batch.
// Batches of 8, one optimizer step each.
const StepLayout kBlobsLayout{.batch_size = 8};

class Blobs final : public BatchSource {
 public:
  Shape sample_shape() const override { return {1, 4, 1, 1}; }
  std::int64_t num_samples() const override { return 64; }
  void start_epoch(std::uint64_t) override { next_ = 0; }
  bool next(Batch& batch) override {
    if (next_ >= 64) return false;
    batch.inputs.resize({8, 4, 1, 1});
    batch.labels.clear();
    batch.indices.clear();
    for (std::int64_t r = 0; r < 8; ++r) {
      const std::int64_t i = next_ + r;
      Rng rng({5, 0, static_cast<std::uint64_t>(i), 1});
      for (int f = 0; f < 4; ++f)
        batch.inputs[r * 4 + f] = (f == i % 3 ? 1.5f : 0.f) + rng.normal(0, 0.5f);
      batch.labels.push_back(static_cast<int>(i % 3));
      batch.indices.push_back(static_cast<std::uint64_t>(i));
    }
    next_ += 8;
    return true;
  }

 private:
  std::int64_t next_ = 0;
};

Json mlp(const char* init = "glorot_uniform") {
  return {{"input", {4, 1, 1}},
          {"layers",
           {{{"type", "dense"}, {"units", 6}, {"init", init}},
            {{"type", "relu"}},
            {{"type", "dropout"}, {"rate", 0.3}},
            {{"type", "dense"}, {"units", 3}, {"init", init}}}}};
}

std::vector<float> all_weights(Model& model) {
  std::vector<float> w;
  for (Parameter* p : model.parameters())
    w.insert(w.end(), p->value.span().begin(), p->value.span().end());
  return w;
}

TEST(Diagnostics, FiguresAreTheHandComputedOnes) {
  Model model = Model::from_config(mlp());
  model.initialize(3);
  Blobs data;
  data.start_epoch(0);
  Batch batch;
  data.next(batch);
  // One step by hand: forward, backward, plain SGD without momentum.
  std::vector<std::vector<float>> before;
  for (Parameter* p : model.parameters())
    before.emplace_back(p->value.span().begin(), p->value.span().end());
  const Tensor& logits = model.forward(batch.inputs, {Mode::kTrain, 0, 0, batch.indices});
  Tensor dlogits(logits.shape());
  SoftmaxCrossEntropy{}.compute(logits, batch.labels, &dlogits);
  model.backward(batch.inputs, dlogits);
  Sgd sgd(0.f, false);
  std::vector<Parameter*> params = model.parameters();
  sgd.step(params, 0.1f);
  const DiagnosticsRecord r = Diagnostics::measure(model, before);
  ASSERT_EQ(r.layers.size(), 4u);

  // The ReLU's figures (the dense layer before it applies it: no figures of its own).
  const bool absorbed = model.applies_next_relu(0);
  const Tensor& relu = model.layer_output(1);
  double sum = 0, squares = 0;
  for (const float v : relu.span()) sum += v;
  const double mean = sum / static_cast<double>(relu.size());
  for (const float v : relu.span()) squares += (v - mean) * (v - mean);
  EXPECT_NEAR(r.layers[1].activation_mean, mean, 1e-9);
  EXPECT_NEAR(r.layers[1].activation_std, std::sqrt(squares / static_cast<double>(relu.size())),
              1e-9);
  int dead = 0;
  for (int unit = 0; unit < 6; ++unit) {
    bool alive = false;
    for (int n = 0; n < 8; ++n) alive |= relu[n * 6 + unit] != 0.f;
    dead += !alive;
  }
  EXPECT_DOUBLE_EQ(r.layers[1].dead_fraction, dead / 6.0);
  EXPECT_EQ(std::isnan(r.layers[0].activation_std), absorbed);
  EXPECT_TRUE(std::isnan(r.layers[0].dead_fraction));  // not a ReLU

  // Norms of the first dense layer: weight and bias together; SGD's update is lr · gradient.
  double g2 = 0, w2 = 0, old2 = 0;
  for (std::size_t k = 0; k < 2; ++k) {
    for (const float g : params[k]->grad.span()) g2 += static_cast<double>(g) * g;
    for (const float w : params[k]->value.span()) w2 += static_cast<double>(w) * w;
    for (const float w : before[k]) old2 += static_cast<double>(w) * w;
  }
  EXPECT_NEAR(r.layers[0].gradient_norm, std::sqrt(g2), 1e-9);
  EXPECT_NEAR(r.layers[0].weight_norm, std::sqrt(w2), 1e-9);
  EXPECT_NEAR(r.layers[0].update_ratio, 0.1 * std::sqrt(g2) / std::sqrt(old2), 1e-6);
  EXPECT_TRUE(std::isnan(r.layers[1].gradient_norm));  // a ReLU has no weights
  EXPECT_TRUE(std::isnan(Diagnostics::measure(model, {}).layers[0].update_ratio));
}

TEST(Diagnostics, TrainingIsBitIdenticalWithAndWithoutThem) {
  auto train = [](bool diagnose, std::int64_t* records) {
    Model model = Model::from_config(mlp());
    model.initialize(7);
    Sgd sgd(0.9f, false);
    Blobs data;
    TrainState state;
    state.learning_rate = 0.05f;
    Diagnostics diagnostics(model, 3, [&](const DiagnosticsRecord&) { ++*records; });
    std::vector<Callback*> callbacks;
    if (diagnose) callbacks.push_back(&diagnostics);
    Trainer::fit(model, sgd, data, state, 3, kBlobsLayout, callbacks);
    return all_weights(model);
  };
  std::int64_t records = 0;
  const std::vector<float> with = train(true, &records);
  EXPECT_EQ(records, 9);  // 24 steps: the first and every 3rd
  EXPECT_EQ(with, train(false, &records));
}

TEST(Diagnostics, WarnsOfDeadShrinkingAndBadlyScaledLayers) {
  DiagnosticsRecord healthy;
  healthy.step = 10;
  healthy.layers = {{0, "dense_1", "dense", NAN, NAN, NAN, 1.0, 5.0, 1e-3},
                    {1, "relu_1", "relu", 0.4, 0.6, 0.1, NAN, NAN, NAN},
                    {2, "relu_2", "relu", 0.3, 0.5, 0.2, NAN, NAN, NAN}};
  EXPECT_TRUE(Diagnostics::warnings(healthy).empty());

  DiagnosticsRecord sick = healthy;
  sick.layers[0].update_ratio = 0.5;     // far too large a step
  sick.layers[1].dead_fraction = 0.75;   // most units dead
  sick.layers[2].activation_std = 1e-3;  // 0.6 → 0.001 through depth
  const std::vector<DiagnosticsWarning> found = Diagnostics::warnings(sick);
  ASSERT_EQ(found.size(), 3u);
  const std::vector<std::string> lines = Diagnostics::warning_lines(found, 10);
  ASSERT_EQ(lines.size(), 3u);  // one line per kind
  std::string all;
  for (const std::string& l : lines) all += l + "\n";
  EXPECT_NE(all.find("relu_1 (75%)"), std::string::npos) << all;
  EXPECT_NE(all.find("dense_1 (0.5)"), std::string::npos) << all;
  EXPECT_NE(all.find("0.6 at relu_1 to 0.001 at relu_2"), std::string::npos) << all;
  EXPECT_NE(all.find("[step 10]"), std::string::npos) << all;
}

TEST(Diagnostics, ZeroInitializationKillsEveryReluAndIsSaidOnce) {
  Model model = Model::from_config(mlp("zeros"));
  model.initialize(1);
  Sgd sgd(0.9f, false);
  Blobs data;
  TrainState state;
  state.learning_rate = 0.05f;
  std::vector<std::string> said;
  Diagnostics diagnostics(model, 2, {}, [&](const std::string& line) { said.push_back(line); });
  std::vector<Callback*> callbacks = {&diagnostics};
  Trainer::fit(model, sgd, data, state, 2, kBlobsLayout, callbacks);
  // 16 records of a dead layer, named once (the zero output layer's first steps are also far
  // too large for its weights: a line of its own).
  int dead = 0;
  for (const std::string& line : said) {
    if (line.find("dead ReLUs") == std::string::npos) continue;
    ++dead;
    EXPECT_NE(line.find("relu_1 (100%)"), std::string::npos) << line;
  }
  EXPECT_EQ(dead, 1);
}

}  // namespace
}  // namespace kiln::nn
