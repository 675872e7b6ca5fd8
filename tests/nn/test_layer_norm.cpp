// layer_norm over channels: values computed by hand, PyTorch's LayerNorm over the last axis of the
// channels-last tensor (the same thing, written out), finite-difference gradients.
#include <gtest/gtest.h>

#include <cmath>

#include "nn/error.hpp"
#include "nn/layers/layer_norm.hpp"
#include "tests/support/gradient_check.hpp"

namespace kiln::nn {
namespace {

TEST(LayerNorm, NormalizesEachPixelOverChannels) {
  LayerNorm norm(1e-5f);
  norm.build({1, 3, 1, 2});
  std::vector<Parameter*> p = norm.parameters();
  p[0]->value[0] = 1.f, p[0]->value[1] = 2.f, p[0]->value[2] = 0.5f;  // γ
  p[1]->value[0] = 0.f, p[1]->value[1] = 1.f, p[1]->value[2] = -1.f;  // β
  Tensor x({1, 3, 1, 2}), y;
  // pixel 0 holds 1, 2, 6 down the channels (μ 3, σ² 14/3); pixel 1 holds 5, 5, 5 (σ² 0).
  x[0] = 1.f, x[2] = 2.f, x[4] = 6.f;
  x[1] = 5.f, x[3] = 5.f, x[5] = 5.f;
  norm.forward(x, y, {});
  const double inverse = 1.0 / std::sqrt(14.0 / 3.0 + 1e-5);
  EXPECT_NEAR(y[0], -2.0 * inverse, 1e-6);
  EXPECT_NEAR(y[2], 2.0 * (-1.0 * inverse) + 1.0, 1e-6);
  EXPECT_NEAR(y[4], 0.5 * (3.0 * inverse) - 1.0, 1e-6);
  EXPECT_FLOAT_EQ(y[1], 0.f);  // a constant pixel normalizes to β
  EXPECT_FLOAT_EQ(y[3], 1.f);
  EXPECT_FLOAT_EQ(y[5], -1.f);
}

TEST(LayerNorm, GradientsMatchFiniteDifferences) {
  LayerNorm norm(1e-5f);
  testing::GradientCheckOptions o;
  o.epsilon = 1e-2f;
  o.tolerance = 1e-2;
  o.floor = 1e-2;
  // 5 samples: two chunks of the parameter-gradient sums.
  testing::expect_gradients_match(norm, {5, 5, 2, 3}, o);
  EXPECT_THROW(LayerNorm(0.f), Error);
}

}  // namespace
}  // namespace kiln::nn
