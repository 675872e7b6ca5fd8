#include <gtest/gtest.h>

#include <cmath>

#include "nn/error.hpp"
#include "nn/loss.hpp"
#include "tests/support/gradient_check.hpp"

namespace kiln::nn {
namespace {

TEST(SoftmaxCrossEntropy, UniformLogitsGiveLogK) {
  Tensor logits({2, 4, 1, 1}, 0.3f);
  const std::vector<std::int32_t> labels = {1, 3};
  const auto r = SoftmaxCrossEntropy::compute(logits, labels, nullptr, nullptr);
  EXPECT_NEAR(r.loss, std::log(4.0), 1e-6);
}

TEST(SoftmaxCrossEntropy, HandComputedCase) {
  Tensor logits({1, 3, 1, 1});
  logits[0] = 1.f;
  logits[1] = 2.f;
  logits[2] = 3.f;
  const std::vector<std::int32_t> labels = {0};
  Tensor grad, probs;
  const auto r = SoftmaxCrossEntropy::compute(logits, labels, &grad, &probs);
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_NEAR(r.loss, -std::log(std::exp(1.0) / z), 1e-6);
  EXPECT_NEAR(probs[2], std::exp(3.0) / z, 1e-6);
  EXPECT_NEAR(grad[0], std::exp(1.0) / z - 1.0, 1e-6);
  EXPECT_EQ(r.correct, 0);
}

// Top-1 and top-5 hits from the label's rank; ties rank the lower class id first.
TEST(Losses, CountTopOneAndTopFiveHits) {
  Tensor logits({4, 7, 1, 1});
  for (std::int64_t r = 0; r < 4; ++r)
    for (std::int64_t c = 0; c < 7; ++c) logits[r * 7 + c] = static_cast<float>(c);  // 6 is best
  const std::vector<std::int32_t> labels = {6, 2, 1, 5};  // ranks 1, 5, 6, 2
  const auto r = SoftmaxCrossEntropy::compute(logits, labels, nullptr, nullptr);
  EXPECT_EQ(r.correct, 1);
  EXPECT_EQ(r.correct_top5, 3);
  Tensor tied({1, 7, 1, 1}, 1.f);  // all equal: class c ranks c + 1
  EXPECT_EQ(SoftmaxCrossEntropy::compute(tied, std::vector<std::int32_t>{4}, nullptr, nullptr)
                .correct_top5,
            1);
  EXPECT_EQ(SoftmaxCrossEntropy::compute(tied, std::vector<std::int32_t>{5}, nullptr, nullptr)
                .correct_top5,
            0);
  EXPECT_EQ(
      SoftmaxCrossEntropy::compute(tied, std::vector<std::int32_t>{0}, nullptr, nullptr).correct,
      1);
}

TEST(SoftmaxCrossEntropy, GradientMatchesFiniteDifferences) {
  Tensor logits({5, 7, 1, 1});
  testing::fill_uniform(logits, 9, -3.f, 3.f);
  const std::vector<std::int32_t> labels = {0, 6, 3, 3, 1};
  Tensor grad;
  SoftmaxCrossEntropy::compute(logits, labels, &grad, nullptr);
  const float eps = 1e-3f;
  for (std::int64_t i = 0; i < logits.size(); ++i) {
    const float saved = logits[i];
    logits[i] = saved + eps;
    const double plus = SoftmaxCrossEntropy::compute(logits, labels, nullptr, nullptr).loss;
    logits[i] = saved - eps;
    const double minus = SoftmaxCrossEntropy::compute(logits, labels, nullptr, nullptr).loss;
    logits[i] = saved;
    EXPECT_NEAR(grad[i], (plus - minus) / (2.0 * eps), 1e-4) << "logit " << i;
  }
}

TEST(SoftmaxCrossEntropy, IsStableForHugeLogits) {
  Tensor logits({1, 3, 1, 1});
  logits[0] = 1000.f;
  logits[1] = -1000.f;
  logits[2] = 999.f;
  const std::vector<std::int32_t> labels = {2};
  Tensor grad;
  const auto r = SoftmaxCrossEntropy::compute(logits, labels, &grad, nullptr);
  EXPECT_TRUE(std::isfinite(r.loss));
  EXPECT_NEAR(r.loss, std::log(1.0 + std::exp(-1.0)) + 1.0, 1e-4);
  for (float g : grad.span()) EXPECT_TRUE(std::isfinite(g));
}

TEST(SoftmaxCrossEntropy, RejectsLabelsOutsideTheOutputs) {
  Tensor logits({1, 3, 1, 1});
  const std::vector<std::int32_t> labels = {3};
  EXPECT_THROW(SoftmaxCrossEntropy::compute(logits, labels, nullptr, nullptr), Error);
}

// Finite differences of every loss through the Loss interface.
TEST(Losses, GradientsMatchFiniteDifferences) {
  const SigmoidBinaryCrossEntropy bce;
  const MeanSquaredError mse;
  const SoftmaxCrossEntropy softmax;
  for (const Loss* loss : std::initializer_list<const Loss*>{&bce, &mse, &softmax}) {
    Tensor out({4, 3, 1, 1});
    testing::fill_uniform(out, 12, -2.f, 2.f);
    const std::vector<std::int32_t> labels = {2, 0, 1, 1};
    Tensor grad;
    loss->compute(out, labels, &grad);
    const float eps = 1e-3f;
    for (std::int64_t i = 0; i < out.size(); ++i) {
      const float saved = out[i];
      out[i] = saved + eps;
      const double plus = loss->compute(out, labels, nullptr).loss;
      out[i] = saved - eps;
      const double minus = loss->compute(out, labels, nullptr).loss;
      out[i] = saved;
      EXPECT_NEAR(grad[i], (plus - minus) / (2.0 * eps), 1e-4) << loss->name() << " output " << i;
    }
  }
}

TEST(Losses, HandComputedValues) {
  Tensor out({1, 2, 1, 1});
  out[0] = 0.f;
  out[1] = 2.f;
  const std::vector<std::int32_t> label = {1};  // targets (0, 1)
  // BCE: ( log(1 + e^0) + log(1 + e^-2) ) / 2
  EXPECT_NEAR(SigmoidBinaryCrossEntropy{}.compute(out, label, nullptr).loss,
              (std::log(2.0) + std::log1p(std::exp(-2.0))) / 2, 1e-7);
  // MSE: ( (0 - 0)² + (2 - 1)² ) / 2
  EXPECT_NEAR(MeanSquaredError{}.compute(out, label, nullptr).loss, 0.5, 1e-7);
  // BCE stays finite for huge logits.
  out[0] = -1000.f;
  out[1] = 1000.f;
  EXPECT_NEAR(SigmoidBinaryCrossEntropy{}.compute(out, label, nullptr).loss, 0.0, 1e-7);
  EXPECT_EQ(make_loss("mean_squared_error")->name(), "mean_squared_error");
  EXPECT_THROW(make_loss("hinge"), Error);
}

}  // namespace
}  // namespace kiln::nn
