// upsample against values worked out by hand from PyTorch's F.interpolate documentation (nearest;
// bilinear with align_corners=False), and finite-difference gradients.
#include <gtest/gtest.h>

#include "nn/error.hpp"
#include "nn/layers/registry.hpp"
#include "nn/layers/upsample.hpp"
#include "tests/support/gradient_check.hpp"

namespace kiln::nn {
namespace {

std::vector<float> run(Upsample& layer, const Tensor& x) {
  Tensor y;
  layer.build(x.shape());
  layer.forward(x, y, {});
  return {y.span().begin(), y.span().end()};
}

TEST(Upsample, NearestRepeatsEachPixel) {
  Upsample up({2, 3}, Interpolation::kNearest);
  EXPECT_EQ(up.build({1, 5, 2, 2}), (Shape{1, 5, 4, 6}));
  Tensor x({1, 1, 2, 2});
  x[0] = 1.f, x[1] = 2.f, x[2] = 3.f, x[3] = 4.f;
  EXPECT_EQ(run(up, x), (std::vector<float>{1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2,  //
                                            3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4}));
}

TEST(Upsample, BilinearUsesHalfPixelCentres) {
  // F.interpolate([[0, 1]], scale_factor=2, mode="linear", align_corners=False) = [0, .25, .75, 1]
  Upsample up({1, 2}, Interpolation::kBilinear);
  Tensor x({1, 1, 1, 2});
  x[0] = 0.f, x[1] = 1.f;
  const std::vector<float> y = run(up, x);
  ASSERT_EQ(y.size(), 4u);
  EXPECT_FLOAT_EQ(y[0], 0.f);
  EXPECT_FLOAT_EQ(y[1], 0.25f);
  EXPECT_FLOAT_EQ(y[2], 0.75f);
  EXPECT_FLOAT_EQ(y[3], 1.f);
  // Both axes, factor 2 on a 2x2: the centre of output (1, 1) is source (0.25, 0.25).
  Upsample both({2, 2}, Interpolation::kBilinear);
  Tensor square({1, 1, 2, 2});
  square[0] = 0.f, square[1] = 4.f, square[2] = 8.f, square[3] = 12.f;
  EXPECT_FLOAT_EQ(run(both, square)[1 * 4 + 1], 0.25f * 4.f + 0.25f * 8.f);
}

TEST(Upsample, GradientsMatchFiniteDifferences) {
  Upsample nearest({2, 2}, Interpolation::kNearest), bilinear({3, 2}, Interpolation::kBilinear);
  testing::expect_gradients_match(nearest, {2, 2, 3, 2});
  testing::expect_gradients_match(bilinear, {2, 2, 3, 4});
  EXPECT_THROW(make_layer("upsample", {{"interpolation", "bicubic"}}), Error);
  EXPECT_THROW(make_layer("upsample", {{"size", 0}}), Error);
}

}  // namespace
}  // namespace kiln::nn
