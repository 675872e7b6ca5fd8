// Element-wise activations and softmax: finite-difference gradients on each side of every kink,
// and values computed by hand (or from the closed forms PyTorch documents).
#include <gtest/gtest.h>

#include <cmath>

#include "nn/error.hpp"
#include "nn/layers/activations.hpp"
#include "nn/layers/registry.hpp"
#include "tests/support/gradient_check.hpp"

namespace kiln::nn {
namespace {

using testing::expect_gradients_match;

TEST(Activations, GradientsMatchFiniteDifferences) {
  testing::GradientCheckOptions away_from_kink;
  away_from_kink.epsilon = 1e-3f;
  away_from_kink.input_lo = 0.05f;
  ElementwiseActivation relu(Activation::kRelu);
  expect_gradients_match(relu, {2, 3, 4, 5}, away_from_kink);
  ElementwiseActivation leaky(Activation::kLeakyRelu, 0.1f);
  away_from_kink.input_lo = -1.f;
  away_from_kink.input_hi = -0.05f;
  expect_gradients_match(leaky, {2, 3, 4, 5}, away_from_kink);
  testing::GradientCheckOptions smooth;
  smooth.epsilon = 1e-3f;
  ElementwiseActivation sigmoid(Activation::kSigmoid), tanh_layer(Activation::kTanh);
  expect_gradients_match(sigmoid, {2, 3, 2, 2}, smooth);
  expect_gradients_match(tanh_layer, {2, 3, 2, 2}, smooth);
  Softmax softmax;
  expect_gradients_match(softmax, {3, 5, 2, 1}, smooth);
}

TEST(Activations, HandComputedValues) {
  Tensor x({1, 3, 1, 1}), y;
  x[0] = -2.f;
  x[1] = 0.f;
  x[2] = 3.f;
  ElementwiseActivation(Activation::kLeakyRelu, 0.5f).forward(x, y, {});
  EXPECT_FLOAT_EQ(y[0], -1.f);
  EXPECT_FLOAT_EQ(y[2], 3.f);
  ElementwiseActivation(Activation::kSigmoid).forward(x, y, {});
  EXPECT_FLOAT_EQ(y[1], 0.5f);
  Softmax().forward(x, y, {});
  const double z = std::exp(-2.0) + 1.0 + std::exp(3.0);
  EXPECT_NEAR(y[2], std::exp(3.0) / z, 1e-6);
}

// The piecewise activations on every piece: each check's inputs lie inside one piece, so the
// central differences never straddle a kink.
TEST(Activations, PiecewiseGradientsMatchOnEveryPiece) {
  testing::GradientCheckOptions o;
  o.epsilon = 1e-3f;
  const auto check = [&](Activation kind, float lo, float hi) {
    SCOPED_TRACE(std::to_string(lo) + ".." + std::to_string(hi));
    ElementwiseActivation layer(kind, ElementwiseActivation::kHardSigmoidAlpha,
                                ElementwiseActivation::kHardSigmoidBeta);
    o.input_lo = lo;
    o.input_hi = hi;
    expect_gradients_match(layer, {2, 2, 3, 3}, o);
  };
  check(Activation::kRelu6, 0.05f, 5.9f);
  check(Activation::kRelu6, 6.1f, 9.f);
  check(Activation::kHardSwish, -6.f, -3.1f);
  check(Activation::kHardSwish, -2.9f, 2.9f);
  check(Activation::kHardSwish, 3.1f, 6.f);
  check(Activation::kHardSigmoid, -2.9f, 2.9f);
  check(Activation::kHardSigmoid, 3.1f, 6.f);
  check(Activation::kSilu, -4.f, 4.f);
  check(Activation::kGelu, -4.f, 4.f);
}

TEST(Activations, ModernActivationsHandComputed) {
  Tensor x({1, 4, 1, 1}), y;
  x[0] = -4.f;
  x[1] = -1.f;
  x[2] = 1.f;
  x[3] = 7.f;
  const auto run = [&](Activation kind, float alpha = ElementwiseActivation::kHardSigmoidAlpha,
                       float beta = ElementwiseActivation::kHardSigmoidBeta) {
    ElementwiseActivation(kind, alpha, beta).forward(x, y, {});
    return std::vector<float>(y.span().begin(), y.span().end());
  };
  EXPECT_EQ(run(Activation::kRelu6), (std::vector<float>{0.f, 0.f, 1.f, 6.f}));
  // relu6(x + 3) / 6: 0, 2/6, 4/6, 1
  auto hs = run(Activation::kHardSigmoid);
  EXPECT_FLOAT_EQ(hs[0], 0.f);
  EXPECT_FLOAT_EQ(hs[1], 2.f / 6.f);
  EXPECT_FLOAT_EQ(hs[2], 4.f / 6.f);
  EXPECT_FLOAT_EQ(hs[3], 1.f);
  // ONNX's defaults, Keras 2's hard_sigmoid: clamp(0.2·x + 0.5, 0, 1)
  EXPECT_FLOAT_EQ(run(Activation::kHardSigmoid, 0.2f, 0.5f)[1], 0.3f);
  auto hw = run(Activation::kHardSwish);  // x · relu6(x + 3) / 6
  EXPECT_FLOAT_EQ(hw[0], 0.f);
  EXPECT_FLOAT_EQ(hw[1], -2.f / 6.f);
  EXPECT_FLOAT_EQ(hw[2], 4.f / 6.f);
  EXPECT_FLOAT_EQ(hw[3], 7.f);
  auto silu = run(Activation::kSilu);
  EXPECT_NEAR(silu[2], 1.0 / (1.0 + std::exp(-1.0)), 1e-7);
  EXPECT_NEAR(silu[1], -1.0 / (1.0 + std::exp(1.0)), 1e-7);
  auto gelu = run(Activation::kGelu);  // x · Φ(x); Φ(1) = 0.841344746...
  EXPECT_NEAR(gelu[2], 0.8413447460685429, 1e-6);
  EXPECT_NEAR(gelu[1], -(1.0 - 0.8413447460685429), 1e-6);
  EXPECT_NEAR(gelu[0], -4.0 * 3.167124183311998e-05, 1e-6);
}

TEST(Activations, HardSigmoidOptionsRoundTripAndAreChecked) {
  auto layer = make_layer("hard_sigmoid", {{"alpha", 0.2}, {"beta", 0.5}});
  EXPECT_FLOAT_EQ(layer->config().at("alpha").get<float>(), 0.2f);
  EXPECT_FLOAT_EQ(make_layer("hard_sigmoid", Json::object())->config().at("alpha").get<float>(),
                  1.f / 6.f);
  EXPECT_THROW(make_layer("hard_sigmoid", {{"alpha", 0.0}}), Error);
  EXPECT_THROW(make_layer("relu6", {{"alpha", 0.1}}), Error);  // relu6 takes no options
}

}  // namespace
}  // namespace kiln::nn
