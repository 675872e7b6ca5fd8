// conv2d with groups and dilation: a direct definition written from PyTorch's documentation of
// Conv2d (filter f reads channels [g·C/G, (g+1)·C/G) of its group g = f / (F/G); tap (i, j) reads
// pixel (oy·s − p + i·d, ox·s − p + j·d)), finite-difference gradients, and the refusals.
#include <gtest/gtest.h>

#include <algorithm>

#include "nn/error.hpp"
#include "nn/layers/conv/conv2d.hpp"
#include "nn/layers/registry.hpp"
#include "tests/support/gradient_check.hpp"

namespace kiln::nn {
namespace {

using testing::expect_gradients_match;
using testing::fill_uniform;

struct GroupedCase {
  Shape input;
  std::int64_t filters, groups;
  Size2 kernel, strides, dilation;
  std::int64_t pad;     // on every side
  std::int64_t oh, ow;  // worked out by hand: (in + 2p − d·(k − 1) − 1) / s + 1
};

std::vector<double> direct_conv(const GroupedCase& c, const Tensor& x, const Tensor& w,
                                const Tensor& b) {
  const Shape& s = c.input;
  const std::int64_t cg = s.c / c.groups, fg = c.filters / c.groups;
  std::vector<double> y(static_cast<std::size_t>(s.n * c.filters * c.oh * c.ow));
  for (std::int64_t n = 0; n < s.n; ++n)
    for (std::int64_t f = 0; f < c.filters; ++f)
      for (std::int64_t oy = 0; oy < c.oh; ++oy)
        for (std::int64_t ox = 0; ox < c.ow; ++ox) {
          double sum = b[f];
          for (std::int64_t k = 0; k < cg; ++k) {
            const std::int64_t channel = (f / fg) * cg + k;
            for (std::int64_t i = 0; i < c.kernel.h; ++i)
              for (std::int64_t j = 0; j < c.kernel.w; ++j) {
                const std::int64_t yy = oy * c.strides.h - c.pad + i * c.dilation.h;
                const std::int64_t xx = ox * c.strides.w - c.pad + j * c.dilation.w;
                if (yy < 0 || yy >= s.h || xx < 0 || xx >= s.w) continue;
                sum += static_cast<double>(w[((f * cg + k) * c.kernel.h + i) * c.kernel.w + j]) *
                       x[((n * s.c + channel) * s.h + yy) * s.w + xx];
              }
          }
          y[static_cast<std::size_t>(((n * c.filters + f) * c.oh + oy) * c.ow + ox)] = sum;
        }
  return y;
}

Conv2D make_conv(const GroupedCase& c) {
  const std::int64_t p = c.pad;
  return Conv2D({.filters = c.filters,
                 .kernel = c.kernel,
                 .strides = c.strides,
                 .padding = Padding::pixels(p, p, p, p),
                 .dilation = c.dilation,
                 .groups = c.groups,
                 .weights = {.init = "he_normal", .use_bias = true}});
}

class GroupedConv : public ::testing::TestWithParam<GroupedCase> {};

TEST_P(GroupedConv, MatchesTheDirectDefinition) {
  const GroupedCase& c = GetParam();
  Conv2D conv = make_conv(c);
  const Shape out = conv.build(c.input.with_n(1));
  ASSERT_EQ(out, (Shape{1, c.filters, c.oh, c.ow}));
  std::vector<Parameter*> params = conv.parameters();
  ASSERT_EQ(params[0]->value.shape(),
            (Shape{c.filters, c.input.c / c.groups, c.kernel.h, c.kernel.w}));
  fill_uniform(params[0]->value, 7, -1.f, 1.f);
  fill_uniform(params[1]->value, 8, -1.f, 1.f);
  Tensor x(c.input), y;
  fill_uniform(x, 9, -1.f, 1.f);
  conv.forward(x, y, {Mode::kEval, 1, 0, {}});
  const std::vector<double> expected = direct_conv(c, x, params[0]->value, params[1]->value);
  ASSERT_EQ(y.size(), static_cast<std::int64_t>(expected.size()));
  for (std::size_t i = 0; i < expected.size(); ++i)
    EXPECT_NEAR(y[static_cast<std::int64_t>(i)], expected[i], 1e-5) << "output " << i;
}

TEST_P(GroupedConv, GradientsMatchFiniteDifferences) {
  Conv2D conv = make_conv(GetParam());
  expect_gradients_match(conv, GetParam().input);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, GroupedConv,
    ::testing::Values(
        // two groups of 2 channels, 3 filters each; 5 samples: two chunks of the gradient sum
        GroupedCase{{5, 4, 5, 6}, 6, 2, {3, 3}, {1, 1}, {1, 1}, 1, 5, 6},
        // depthwise (groups = C), stride 2: MobileNet's downsampling block
        GroupedCase{{2, 3, 7, 6}, 3, 3, {3, 3}, {2, 2}, {1, 1}, 1, 4, 3},
        // depthwise with a channel multiplier of 2 (Keras' depth_multiplier)
        GroupedCase{{2, 2, 5, 5}, 4, 2, {3, 3}, {1, 1}, {1, 1}, 0, 3, 3},
        // dilation 2 with padding 2 keeps the size (DeepLab's atrous convolution)
        GroupedCase{{2, 2, 7, 6}, 3, 1, {3, 3}, {1, 1}, {2, 2}, 2, 7, 6},
        // dilation differing by axis, a 2x3 kernel, stride 2 and groups together
        GroupedCase{{3, 4, 9, 10}, 2, 2, {2, 3}, {2, 2}, {3, 2}, 1, 4, 4}));

TEST(GroupedConv, ConfigRoundTripsGroupsAndDilation) {
  auto layer = make_layer(
      "conv2d",
      {{"filters", 4}, {"kernel_size", 3}, {"groups", 2}, {"dilation", 2}, {"padding", "same"}});
  const Json config = layer->config();
  EXPECT_EQ(config.at("groups"), 2);
  EXPECT_EQ(config.at("dilation"), Json::array({2, 2}));
  // A plain convolution's config keeps its old keys only.
  const Json plain = make_layer("conv2d", {{"filters", 4}})->config();
  EXPECT_FALSE(plain.contains("groups"));
  EXPECT_FALSE(plain.contains("dilation"));
}

// The direct depthwise path with a following ReLU absorbed: the two layers run apart, bit for bit,
// forward and backward.
TEST(GroupedConv, DepthwiseAbsorbsAReluBitForBit) {
  const GroupedCase c{{5, 3, 6, 5}, 6, 3, {3, 3}, {2, 1}, {1, 1}, 1, 3, 5};
  Conv2D fused = make_conv(c), alone = make_conv(c);
  fused.build(c.input.with_n(1));
  alone.build(c.input.with_n(1));
  for (Conv2D* conv : {&fused, &alone}) {
    fill_uniform(conv->parameters()[0]->value, 7, -1.f, 1.f);
    fill_uniform(conv->parameters()[1]->value, 8, -1.f, 1.f);
  }
  fused.absorb_relu();
  Tensor x(c.input), y_fused, y_alone, y_relu, dy(Shape{5, 6, 3, 5}), dx_fused, dx_alone, d_relu;
  fill_uniform(x, 9, -1.f, 1.f);
  fill_uniform(dy, 10, -1.f, 1.f);
  fused.forward(x, y_fused, {});
  alone.forward(x, y_alone, {});
  for (std::int64_t e = 0; e < y_alone.size(); ++e)
    ASSERT_EQ(y_fused[e], std::max(y_alone[e], 0.f));
  fused.backward(x, y_fused, dy, dx_fused);
  d_relu.resize(dy.shape());
  for (std::int64_t e = 0; e < dy.size(); ++e) d_relu[e] = y_fused[e] > 0.f ? dy[e] : 0.f;
  alone.backward(x, y_alone, d_relu, dx_alone);
  for (std::int64_t e = 0; e < x.size(); ++e) ASSERT_EQ(dx_fused[e], dx_alone[e]) << e;
  for (std::size_t p = 0; p < 2; ++p) {
    const Tensor& a = fused.parameters()[p]->grad;
    const Tensor& b = alone.parameters()[p]->grad;
    for (std::int64_t e = 0; e < a.size(); ++e) ASSERT_EQ(a[e], b[e]) << p << ", " << e;
  }
}

// Keras' DepthwiseConv2D: the multiplier fixes filters and groups once the channels are known.
TEST(GroupedConv, DepthMultiplierMakesADepthwiseConvolutionOfTheInput) {
  auto layer = make_layer("conv2d", {{"depth_multiplier", 3}, {"padding", "same"}});
  EXPECT_EQ(layer->build({1, 4, 6, 6}), (Shape{1, 12, 6, 6}));
  EXPECT_EQ(layer->parameters()[0]->value.shape(), (Shape{12, 1, 3, 3}));
  const Json config = layer->config();
  EXPECT_EQ(config.at("depth_multiplier"), 3);
  EXPECT_FALSE(config.contains("filters"));
  EXPECT_FALSE(config.contains("groups"));
  EXPECT_EQ(make_layer("conv2d", config)->config(), config);
  EXPECT_THROW(make_layer("conv2d", {{"depth_multiplier", 2}, {"filters", 4}}), Error);
}

TEST(GroupedConv, RefusesGroupsThatDoNotDivide) {
  EXPECT_THROW(make_layer("conv2d", {{"filters", 3}, {"groups", 2}}), Error);
  auto layer = make_layer("conv2d", {{"filters", 4}, {"groups", 2}});
  try {
    layer->build({1, 3, 8, 8});
    FAIL() << "3 channels in 2 groups were accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("must divide the input's 3 channels"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(make_layer("conv2d", {{"filters", 4}, {"groups", 2}, {"algorithm", "winograd"}})
                   ->build({1, 4, 8, 8}),
               Error);
}

}  // namespace
}  // namespace kiln::nn
