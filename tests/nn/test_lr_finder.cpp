// The range test against an answer known in closed form: one weight w, one input s, target 1,
// mean squared error L = (w s - 1)^2. Gradient descent multiplies the error by (1 - 2 r s^2) per
// step, so the loss grows exactly when the rate r exceeds 1 / s^2.
#include <gtest/gtest.h>

#include <cmath>

#include "nn/error.hpp"
#include "nn/training/lr_finder.hpp"
#include "nn/training/optimizer.hpp"

namespace kiln::nn {
namespace {

// Every batch: four copies of the input s, label 0 (the one output's one-hot target is 1).
class ConstantSource final : public BatchSource {
 public:
  explicit ConstantSource(float s) : s_(s) {}
  Shape sample_shape() const override { return {1, 1, 1, 1}; }
  std::int64_t num_samples() const override { return 4; }
  void start_epoch(std::uint64_t) override { given_ = false; }
  bool next(Batch& batch) override {
    if (given_) return false;
    given_ = true;
    batch.inputs = Tensor({4, 1, 1, 1}, s_);
    batch.labels = {0, 0, 0, 0};
    batch.indices = {0, 1, 2, 3};
    return true;
  }

 private:
  float s_;
  bool given_ = false;
};

Model one_weight() {
  Model model = Model::from_config(
      {{"input", {1, 1, 1}}, {"layers", {{{"type", "dense"}, {"units", 1}, {"use_bias", false}}}}});
  model.parameters()[0]->value[0] = 0.f;
  return model;
}

TEST(LrFinder, TheLossTurnsUpWhereTheoryPutsIt) {
  for (const float s : {0.5f, 2.f, 3.f}) {
    const double critical = 1.0 / (s * s);
    Model model = one_weight();
    Sgd sgd(0.f, false);
    ConstantSource data(s);
    MeanSquaredError mse;
    // From 0.6x the critical rate: the error shrinks, but not below float resolution (a range
    // starting far lower would drive it to exactly zero, where nothing can grow again).
    const LrFindResult r =
        find_learning_rate(model, sgd, data, mse,
                           {.min_rate = 0.6 * critical, .max_rate = 100 * critical, .steps = 60});
    ASSERT_GT(r.points.size(), 2u);
    // points[i].loss is measured before the step at points[i].rate: the loss rises from point i
    // to i + 1 exactly when that step's rate is above the critical one.
    std::size_t first_rise = 0;
    for (std::size_t i = 0; i + 1 < r.points.size(); ++i) {
      if (r.points[i + 1].loss > r.points[i].loss) {
        first_rise = i;
        break;
      }
    }
    ASSERT_GT(first_rise, 0u) << "s = " << s;
    EXPECT_GT(r.points[first_rise].rate, critical) << "s = " << s;
    EXPECT_LE(r.points[first_rise - 1].rate, critical) << "s = " << s;
    EXPECT_TRUE(r.diverged) << "s = " << s;
    // Stopped by the rule: the last smoothed loss is above 4x the smallest.
    double lowest = INFINITY;
    for (const LrFindPoint& p : r.points) lowest = std::min(lowest, p.smoothed);
    EXPECT_GT(r.points.back().smoothed, 4 * lowest);
    // Both suggestions lie below the divergence point.
    EXPECT_LT(r.minimum_by_10, critical);
    EXPECT_LT(r.steepest, 2 * critical);
  }
}

TEST(LrFinder, SmoothingIsFastaisBiasCorrectedAverage) {
  Model model = one_weight();
  Sgd sgd(0.f, false);
  ConstantSource data(1.f);
  MeanSquaredError mse;
  const LrFindResult r =
      find_learning_rate(model, sgd, data, mse, {.min_rate = 1e-3, .max_rate = 1e-2, .steps = 5});
  ASSERT_EQ(r.points.size(), 5u);
  double average = 0;
  for (std::size_t i = 0; i < r.points.size(); ++i) {
    average = 0.98 * average + 0.02 * r.points[i].loss;
    EXPECT_NEAR(r.points[i].smoothed, average / (1 - std::pow(0.98, i + 1.0)), 1e-12);
  }
  EXPECT_NEAR(r.points.front().rate, 1e-3, 1e-15);
  EXPECT_NEAR(r.points.back().rate, 1e-2, 1e-14);
  EXPECT_FALSE(r.diverged);
  EXPECT_THROW(find_learning_rate(model, sgd, data, mse, {.min_rate = 1, .max_rate = 0.1}), Error);
}

}  // namespace
}  // namespace kiln::nn
