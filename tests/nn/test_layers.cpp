// Every layer but dense: finite-difference gradients (train mode), naive references for
// convolution and pooling on odd shapes, and the train/eval behaviours.
#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <cmath>
#include <limits>

#include "nn/error.hpp"
#include "nn/layers/activations.hpp"
#include "nn/layers/batch_norm.hpp"
#include "nn/layers/conv/conv2d.hpp"
#include "nn/layers/dropout.hpp"
#include "nn/layers/lrn.hpp"
#include "nn/layers/pool2d.hpp"
#include "nn/layers/registry.hpp"
#include "nn/layers/zero_pad2d.hpp"
#include "tests/support/gradient_check.hpp"

namespace kiln::nn {
namespace {

using testing::expect_gradients_match;
using testing::fill_uniform;

// Direct definition of the convolution, in double: the reference for im2col + GEMM.
std::vector<double> naive_conv(const Tensor& x, const Tensor& w, const Tensor& b, Size2 stride,
                               std::int64_t pad_top, std::int64_t pad_left, std::int64_t oh,
                               std::int64_t ow) {
  const Shape& xs = x.shape();
  const Shape& ws = w.shape();
  std::vector<double> y(static_cast<std::size_t>(xs.n * ws.n * oh * ow));
  for (std::int64_t n = 0; n < xs.n; ++n)
    for (std::int64_t f = 0; f < ws.n; ++f)
      for (std::int64_t oy = 0; oy < oh; ++oy)
        for (std::int64_t ox = 0; ox < ow; ++ox) {
          double sum = b.size() ? b[f] : 0.0;
          for (std::int64_t c = 0; c < xs.c; ++c)
            for (std::int64_t i = 0; i < ws.h; ++i)
              for (std::int64_t j = 0; j < ws.w; ++j) {
                const std::int64_t yy = oy * stride.h - pad_top + i,
                                   xx = ox * stride.w - pad_left + j;
                if (yy < 0 || yy >= xs.h || xx < 0 || xx >= xs.w) continue;
                sum += static_cast<double>(w[((f * xs.c + c) * ws.h + i) * ws.w + j]) *
                       x[((n * xs.c + c) * xs.h + yy) * xs.w + xx];
              }
          y[static_cast<std::size_t>(((n * ws.n + f) * oh + oy) * ow + ox)] = sum;
        }
  return y;
}

struct ConvCase {
  Shape input;
  std::int64_t filters;
  Size2 kernel, stride;
  Padding padding;
  std::int64_t oh, ow, pad_top, pad_left;  // expected geometry, worked out by hand
  ConvAlgorithm algorithm = ConvAlgorithm::kAuto;
};

class ConvReference : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvReference, MatchesTheDirectDefinition) {
  const ConvCase& k = GetParam();
  Conv2D conv({.filters = k.filters,
               .kernel = k.kernel,
               .strides = k.stride,
               .padding = k.padding,
               .algorithm = k.algorithm,
               .weights = {.init = "glorot_uniform"}});
  const Shape out = conv.build(k.input.with_n(1));
  ASSERT_EQ(out, (Shape{1, k.filters, k.oh, k.ow}));
  if (k.algorithm != ConvAlgorithm::kAuto) {
    ASSERT_EQ(conv.algorithm(), k.algorithm);
  }
  Rng rng({3, 0, 0, kSlotInit});
  conv.initialize(rng);
  fill_uniform(conv.parameters()[1]->value, 4, -1, 1);
  Tensor x(k.input), y;
  fill_uniform(x, 5, -1, 1);
  conv.forward(x, y, {});
  const auto expected = naive_conv(x, conv.parameters()[0]->value, conv.parameters()[1]->value,
                                   k.stride, k.pad_top, k.pad_left, k.oh, k.ow);
  ASSERT_EQ(static_cast<std::size_t>(y.size()), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i)
    ASSERT_NEAR(y[static_cast<std::int64_t>(i)], expected[i], 1e-4) << i;
}

INSTANTIATE_TEST_SUITE_P(
    OddShapes, ConvReference,
    ::testing::Values(
        // non-square input, valid: (7-3)/1+1 = 5, (5-3)/1+1 = 3
        ConvCase{{2, 3, 7, 5}, 4, {3, 3}, {1, 1}, Padding::kValid, 5, 3, 0, 0},
        // stride 2, same: ceil(7/2) = 4, ceil(6/2) = 3; pad total (4-1)*2+3-7
        // = 2 → 1 before; (3-1)*2+3-6 = 1 → 0 before
        ConvCase{{2, 2, 7, 6}, 3, {3, 3}, {2, 2}, Padding::kSame, 4, 3, 1, 0},
        // 1x1 kernel: a per-pixel linear map
        ConvCase{{3, 5, 4, 3}, 2, {1, 1}, {1, 1}, Padding::kValid, 4, 3, 0, 0},
        // 2x4 kernel, strides (1, 3), same: H: out 5, pad (5-1)+2-5 = 1 → 0
        // before; W: out ceil(8/3) = 3, pad (3-1)*3+4-8 = 2 → 1 before
        ConvCase{{1, 2, 5, 8}, 3, {2, 4}, {1, 3}, Padding::kSame, 5, 3, 0, 1},
        // PyTorch's ResNet stem, 7x7 stride 2 padding 3 (not "same": that
        // would pad 2 before): H (12+6-7)/2+1 = 6, W (10+6-7)/2+1 = 5
        ConvCase{{2, 3, 12, 10}, 4, {7, 7}, {2, 2}, Padding::pixels(3, 3, 3, 3), 6, 5, 3, 3},
        // asymmetric [top 0, left 2, bottom 1, right 0]: H 5+1-3+1 = 4,
        // W 4+2-3+1 = 4
        ConvCase{{1, 2, 5, 4}, 3, {3, 3}, {1, 1}, Padding::pixels(0, 2, 1, 0), 4, 4, 0, 2},
        // Outputs of 256 pixels and more: lowered sample by sample, not as one batch.
        ConvCase{
            {2, 3, 17, 16}, 4, {3, 3}, {1, 1}, Padding::kSame, 17, 16, 1, 1, ConvAlgorithm::kGemm},
        ConvCase{{3, 2, 34, 33}, 3, {3, 3}, {2, 2}, Padding::kSame, 17, 17, 0, 1}));

// Winograd F(2×2, 3×3) on whole and cut 2×2 output tiles, with and without padding.
INSTANTIATE_TEST_SUITE_P(
    Winograd, ConvReference,
    ::testing::Values(
        // odd output both ways (5×3): the last tile row and column are cut
        ConvCase{
            {2, 3, 7, 5}, 4, {3, 3}, {1, 1}, Padding::kValid, 5, 3, 0, 0, ConvAlgorithm::kWinograd},
        // even output (6×4), same padding on a non-square image
        ConvCase{
            {3, 2, 6, 4}, 5, {3, 3}, {1, 1}, Padding::kSame, 6, 4, 1, 1, ConvAlgorithm::kWinograd},
        // same padding, odd sizes: the padded plane is wider than the image on both sides
        ConvCase{
            {2, 3, 5, 7}, 2, {3, 3}, {1, 1}, Padding::kSame, 5, 7, 1, 1, ConvAlgorithm::kWinograd},
        // padding 2 around a 3x3 kernel: the output is larger than the image (7x8)
        ConvCase{{2, 3, 5, 6},
                 2,
                 {3, 3},
                 {1, 1},
                 Padding::pixels(2, 2, 2, 2),
                 7,
                 8,
                 2,
                 2,
                 ConvAlgorithm::kWinograd},
        // a single output pixel: one tile, three quarters of it dropped
        ConvCase{
            {4, 2, 3, 3}, 3, {3, 3}, {1, 1}, Padding::kValid, 1, 1, 0, 0, ConvAlgorithm::kWinograd},
        // 16 channels and filters: what "auto" sends to winograd; 9 samples span three groups
        ConvCase{
            {9, 16, 9, 8}, 16, {3, 3}, {1, 1}, Padding::kValid, 7, 6, 0, 0, ConvAlgorithm::kAuto}));

TEST(Conv2D, GradientsMatchFiniteDifferences) {
  Conv2D conv({.filters = 3,
               .kernel = {3, 2},
               .strides = {2, 1},
               .padding = Padding::kSame,
               .weights = {.init = "he_normal", .use_bias = true}});
  expect_gradients_match(conv, {5, 2, 5, 4});  // 5 samples: two chunks of the weight-gradient sum
  Conv2D padded({.filters = 2,
                 .kernel = {3, 3},
                 .strides = {2, 2},
                 .padding = Padding::pixels(2, 0, 1, 3),
                 .weights = {.init = "he_normal", .use_bias = true}});
  expect_gradients_match(padded, {2, 2, 5, 4});
  // 16×16 outputs: lowered sample by sample (the cases above lower the whole batch at once).
  Conv2D large({.filters = 2,
                .kernel = {3, 3},
                .padding = Padding::kSame,
                .algorithm = ConvAlgorithm::kGemm,
                .weights = {.init = "he_normal", .use_bias = true}});
  expect_gradients_match(large, {5, 1, 16, 16});
}

TEST(Conv2D, WinogradGradientsMatchFiniteDifferences) {
  Conv2D conv({.filters = 3,
               .padding = Padding::kSame,
               .algorithm = ConvAlgorithm::kWinograd,
               .weights = {.init = "he_normal", .use_bias = true}});
  expect_gradients_match(conv, {5, 2, 5, 3});  // odd sizes: cut tiles; two chunks
}

// Every pass of winograd against im2col + GEMM on the same weights: outputs, input gradients and
// parameter gradients (with an absorbed ReLU, odd sizes, a partial last chunk). Far tighter than
// the finite differences: a wrong sign in one transform entry fails it.
TEST(Conv2D, WinogradMatchesGemmInEveryPass) {
  struct Result {
    Tensor y, dx, dw, db;
  };
  auto run = [](ConvAlgorithm algorithm, Padding padding, Shape input) {
    Conv2D conv({.filters = 16,
                 .padding = padding,
                 .algorithm = algorithm,
                 .weights = {.init = "he_normal", .use_bias = true}});
    conv.build(input.with_n(1));
    EXPECT_EQ(conv.algorithm(), algorithm);
    conv.absorb_relu();
    Rng rng({2, 0, 0, kSlotInit});
    conv.initialize(rng);
    fill_uniform(conv.parameters()[1]->value, 3, -0.5f, 0.5f);
    Result r;
    Tensor x(input), dy;
    fill_uniform(x, 4, -1, 1);
    conv.forward(x, r.y, {});
    dy = Tensor(r.y.shape());
    fill_uniform(dy, 5, -1, 1);
    conv.backward(x, r.y, dy, r.dx);
    r.dw = conv.parameters()[0]->grad;
    r.db = conv.parameters()[1]->grad;
    return r;
  };
  auto expect_close = [](const Tensor& a, const Tensor& b, const char* what) {
    ASSERT_EQ(a.shape(), b.shape()) << what;
    double scale = 0;
    for (std::int64_t i = 0; i < b.size(); ++i) scale = std::max(scale, std::fabs(double{b[i]}));
    ASSERT_GT(scale, 0.0) << what;
    for (std::int64_t i = 0; i < a.size(); ++i)
      ASSERT_NEAR(a[i], b[i], 2e-5 * scale) << what << " element " << i;
  };
  // 11×10: one sample per GEMM group, under one vector of tiles per row. 5×37: rows of 18-19
  // tiles (two vectors, the second mostly surplus lanes) and four samples per group.
  for (const Shape input : {Shape{9, 16, 11, 10}, Shape{7, 16, 5, 37}})
    for (const Padding padding : {Padding::kValid, Padding::kSame}) {
      SCOPED_TRACE(input.str() + (padding == Padding::kSame ? " same" : " valid"));
      const Result gemm = run(ConvAlgorithm::kGemm, padding, input);
      const Result winograd = run(ConvAlgorithm::kWinograd, padding, input);
      expect_close(winograd.y, gemm.y, "y");
      expect_close(winograd.dx, gemm.dx, "dx");
      expect_close(winograd.dw, gemm.dw, "weight gradient");
      expect_close(winograd.db, gemm.db, "bias gradient");
    }
}

TEST(Conv2D, AutoPicksWinogradForWide3x3Stride1Only) {
  auto chosen = [](std::int64_t channels, std::int64_t filters, Size2 kernel, Size2 strides) {
    Conv2D conv({.filters = filters, .kernel = kernel, .strides = strides, .weights = {}});
    conv.build({1, channels, 12, 12});
    return conv.algorithm();
  };
  EXPECT_EQ(chosen(32, 32, {3, 3}, {1, 1}), ConvAlgorithm::kWinograd);
  EXPECT_EQ(chosen(3, 32, {3, 3}, {1, 1}), ConvAlgorithm::kGemm);  // RGB input: too thin
  EXPECT_EQ(chosen(32, 8, {3, 3}, {1, 1}), ConvAlgorithm::kGemm);
  EXPECT_EQ(chosen(32, 32, {3, 3}, {2, 2}), ConvAlgorithm::kGemm);
  EXPECT_EQ(chosen(32, 32, {5, 5}, {1, 1}), ConvAlgorithm::kGemm);
  // Under 5×5 outputs a sample has too few tiles to pay for transforming the weights.
  Conv2D small({.filters = 32, .padding = Padding::kSame, .weights = {}});
  small.build({1, 32, 4, 5});
  EXPECT_EQ(small.algorithm(), ConvAlgorithm::kGemm);
}

TEST(Conv2D, WinogradRefusesKernelsItCannotCompute) {
  Conv2D strided(
      {.filters = 2, .strides = {2, 2}, .algorithm = ConvAlgorithm::kWinograd, .weights = {}});
  try {
    strided.build({1, 1, 8, 8});
    FAIL() << "stride 2 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("3x3 kernel with strides 1"), std::string::npos)
        << e.what();
  }
  Conv2D five(
      {.filters = 2, .kernel = {5, 5}, .algorithm = ConvAlgorithm::kWinograd, .weights = {}});
  EXPECT_THROW(five.build({1, 1, 8, 8}), Error);
  EXPECT_THROW(make_layer("conv2d", {{"filters", 2}, {"algorithm", "fft"}}), Error);
  const auto layer = make_layer("conv2d", {{"filters", 2}, {"algorithm", "gemm"}});
  EXPECT_EQ(layer->config().at("algorithm"), "gemm");
}

class ConvThreads : public ::testing::TestWithParam<ConvAlgorithm> {};

// 9×9 outputs lower the whole batch into one product, 17×17 ones each sample apart (gemm).
TEST_P(ConvThreads, ResultsDoNotDependOnTheThreadCount) {
  for (const std::int64_t size : {9, 17}) {
    auto run = [size](int threads) {
      tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
      Conv2D conv({.filters = 8,
                   .kernel = {3, 3},
                   .strides = {1, 1},
                   .padding = Padding::kSame,
                   .algorithm = GetParam(),
                   .weights = {.init = "he_normal", .use_bias = true}});
      conv.build({1, 3, size, size});
      Rng rng({1, 0, 0, kSlotInit});
      conv.initialize(rng);
      Tensor x({33, 3, size, size}), y, dy({33, 8, size, size}), dx;
      fill_uniform(x, 1, -1, 1);
      fill_uniform(dy, 2, -1, 1);
      conv.forward(x, y, {});
      conv.backward(x, y, dy, dx);
      std::vector<float> all(y.span().begin(), y.span().end());
      all.insert(all.end(), dx.span().begin(), dx.span().end());
      for (Parameter* p : conv.parameters())
        all.insert(all.end(), p->grad.span().begin(), p->grad.span().end());
      return all;
    };
    EXPECT_EQ(run(1), run(2)) << size << "x" << size;
  }
}

INSTANTIATE_TEST_SUITE_P(BothAlgorithms, ConvThreads,
                         ::testing::Values(ConvAlgorithm::kGemm, ConvAlgorithm::kWinograd));

TEST(Conv2D, RejectsAKernelThatDoesNotFit) {
  Conv2D conv({.filters = 2,
               .kernel = {5, 5},
               .strides = {1, 1},
               .padding = Padding::kValid,
               .weights = {.init = "he_normal", .use_bias = true}});
  EXPECT_THROW(conv.build({1, 1, 4, 4}), Error);
}

TEST(MaxPool2D, MatchesHandComputedValuesAndRoutesGradients) {
  Pool2D pool(PoolKind::kMax, {{2, 2}, {2, 2}, Padding::kValid});
  pool.build({1, 1, 3, 5});  // odd sizes: the last row and column are dropped (valid)
  Tensor x({1, 1, 3, 5});
  const float v[] = {1, 5, 2, 0, 9,  //
                     3, 4, 8, 7, 9,  //
                     6, 6, 6, 6, 6};
  std::copy(std::begin(v), std::end(v), x.data());
  Tensor y, dx;
  pool.forward(x, y, {});
  ASSERT_EQ(y.shape(), (Shape{1, 1, 1, 2}));
  EXPECT_EQ(y[0], 5.f);
  EXPECT_EQ(y[1], 8.f);
  Tensor dy({1, 1, 1, 2});
  dy[0] = 10.f;
  dy[1] = 20.f;
  pool.backward(x, y, dy, dx);
  for (std::int64_t i = 0; i < 15; ++i) EXPECT_EQ(dx[i], i == 1 ? 10.f : i == 7 ? 20.f : 0.f) << i;
}

// Ties go to the first maximum in scan order (row by row): the gradient lands there alone.
TEST(MaxPool2D, TiesGoToTheFirstMaximumInScanOrder) {
  for (const std::int64_t size : {2, 3}) {
    Pool2D pool(PoolKind::kMax, {{size, size}, {size, size}, Padding::kValid});
    pool.build({1, 1, 2 * size, 2 * size});
    Tensor x({1, 1, 2 * size, 2 * size}), y, dx;
    x.fill(6.f);
    pool.forward(x, y, {});
    Tensor dy(y.shape());
    dy.fill(1.f);
    pool.backward(x, y, dy, dx);
    for (std::int64_t r = 0; r < 2 * size; ++r)
      for (std::int64_t c = 0; c < 2 * size; ++c)
        EXPECT_EQ(dx[r * 2 * size + c], r % size == 0 && c % size == 0 ? 1.f : 0.f)
            << "pool " << size << " at " << r << "," << c;
  }
}

// The stride-2 path (16 windows at a time where they lie inside the image) against the
// definition, for Keras' 2×2 and the ResNets' 3×3 with padding 1 (and "same", and valid 3×3):
// wide rows (vectors and a tail), narrow ones, odd sizes, many ties (values drawn from {0..3}),
// a NaN, and the last plane, where whole vectors would read past the tensor.
TEST(MaxPool2D, StrideTwoMatchesTheDefinitionIncludingTiesAndTheLastPlane) {
  const Pool2DOptions pools[] = {{{2, 2}, {2, 2}, Padding::kValid},
                                 {{3, 3}, {2, 2}, Padding::pixels(1, 1, 1, 1)},
                                 {{3, 3}, {2, 2}, Padding::kSame},
                                 {{3, 2}, {2, 2}, Padding::kValid}};
  for (const Pool2DOptions& options : pools) {
    for (const Shape input : {Shape{2, 3, 9, 71}, Shape{3, 2, 30, 30}, Shape{2, 2, 5, 13}}) {
      SCOPED_TRACE(input.str() + " pool " + std::to_string(options.pool.h) + "x" +
                   std::to_string(options.pool.w) + " padding " +
                   padding_json(options.padding).dump());
      Pool2D pool(PoolKind::kMax, options);
      const Shape out = pool.build(input.with_n(1));
      Tensor x(input), y, dx;
      fill_uniform(x, 6, 0, 4);
      for (float& v : x.span()) v = std::floor(v);
      x[7] = std::numeric_limits<float>::quiet_NaN();
      pool.forward(x, y, {});
      Tensor dy(y.shape());
      for (std::int64_t i = 0; i < dy.size(); ++i) dy[i] = static_cast<float>(i + 1);
      pool.backward(x, y, dy, dx);
      // Where the windows start: Keras' "same" pads (total - 1) / 2 before, explicit padding 1.
      const auto pad_before = [&](std::int64_t size, std::int64_t window, std::int64_t outs) {
        if (options.padding == Padding::kValid) return std::int64_t{0};
        const std::int64_t total = std::max<std::int64_t>((outs - 1) * 2 + window - size, 0);
        return options.padding == Padding::kSame ? total / 2 : std::int64_t{1};
      };
      const std::int64_t pad_y = pad_before(input.h, options.pool.h, out.h);
      const std::int64_t pad_x = pad_before(input.w, options.pool.w, out.w);
      std::vector<float> expected_dx(static_cast<std::size_t>(x.size()), 0.f);
      for (std::int64_t p = 0; p < input.n * input.c; ++p)
        for (std::int64_t oy = 0; oy < out.h; ++oy)
          for (std::int64_t ox = 0; ox < out.w; ++ox) {
            float best = -std::numeric_limits<float>::infinity();
            std::int64_t best_at = -1;
            for (std::int64_t r = 2 * oy - pad_y; r < 2 * oy - pad_y + options.pool.h; ++r)
              for (std::int64_t c = 2 * ox - pad_x; c < 2 * ox - pad_x + options.pool.w; ++c) {
                if (r < 0 || r >= input.h || c < 0 || c >= input.w) continue;
                const std::int64_t at = (p * input.h + r) * input.w + c;
                if (best_at < 0) best_at = at;
                if (x[at] > best) {
                  best = x[at];
                  best_at = at;
                }
              }
            const std::int64_t o = (p * out.h + oy) * out.w + ox;
            ASSERT_EQ(y[o], best) << "output " << o;
            expected_dx[static_cast<std::size_t>(best_at)] += dy[o];
          }
      for (std::int64_t i = 0; i < x.size(); ++i)
        ASSERT_EQ(dx[i], expected_dx[static_cast<std::size_t>(i)]) << "input " << i;
    }
  }
}

TEST(AvgPool2D, SamePaddingAveragesOnlyPixelsInTheImage) {
  Pool2D pool(PoolKind::kAverage, {{2, 2}, {2, 2}, Padding::kSame});
  ASSERT_EQ(pool.build({1, 1, 3, 3}), (Shape{1, 1, 2, 2}));
  Tensor x({1, 1, 3, 3});
  for (int i = 0; i < 9; ++i) x[i] = static_cast<float>(i);
  Tensor y;
  pool.forward(x, y, {});
  EXPECT_FLOAT_EQ(y[0], (0 + 1 + 3 + 4) / 4.f);
  EXPECT_FLOAT_EQ(y[1], (2 + 5) / 2.f);
  EXPECT_FLOAT_EQ(y[2], (6 + 7) / 2.f);
  EXPECT_FLOAT_EQ(y[3], 8.f);
}

// PyTorch's MaxPool2d(3, stride 2, padding 1), as in its ResNets: padding never wins the max.
TEST(MaxPool2D, ExplicitPaddingTakesTheMaxOverPixelsInTheImage) {
  Pool2D pool(PoolKind::kMax, {{3, 3}, {2, 2}, Padding::pixels(1, 1, 1, 1)});
  ASSERT_EQ(pool.build({1, 1, 4, 5}), (Shape{1, 1, 2, 3}));  // (4+2-3)/2+1, (5+2-3)/2+1
  Tensor x({1, 1, 4, 5});
  for (int i = 0; i < 20; ++i) x[i] = -static_cast<float>(i);  // largest at the top left
  Tensor y;
  pool.forward(x, y, {});
  // windows start at rows -1, 1 and columns -1, 1, 3
  const float expected[] = {-0.f, -1.f, -3.f, -5.f, -6.f, -8.f};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(y[i], expected[i]) << i;
}

TEST(Padding, ReadsEveryJsonFormAndWritesItBack) {
  EXPECT_EQ(parse_padding("same", "t"), Padding::kSame);
  EXPECT_EQ(parse_padding(3, "t"), Padding::pixels(3, 3, 3, 3));
  EXPECT_EQ(parse_padding(Json::array({1, 2}), "t"), Padding::pixels(1, 2, 1, 2));
  EXPECT_EQ(parse_padding(Json::array({0, 1, 2, 3}), "t"), Padding::pixels(0, 1, 2, 3));
  EXPECT_EQ(padding_json(Padding::pixels(0, 1, 2, 3)), Json::array({0, 1, 2, 3}));
  EXPECT_EQ(padding_json(Padding::kValid), "valid");
  EXPECT_THROW(parse_padding(Json::array({1, -1}), "t"), Error);
  EXPECT_THROW(parse_padding("full", "t"), Error);
}

TEST(Pooling, GradientsMatchFiniteDifferences) {
  Pool2D avg(PoolKind::kAverage, {{3, 2}, {2, 1}, Padding::kSame});
  expect_gradients_match(avg, {2, 3, 5, 4});
  GlobalAvgPool2D global;
  expect_gradients_match(global, {2, 3, 4, 5});
  // Max pooling is piecewise linear: well-separated inputs keep the arg-max stable under ±ε.
  Pool2D max(PoolKind::kMax, {{2, 2}, {2, 2}, Padding::kValid});
  testing::GradientCheckOptions o;
  o.epsilon = 1e-4f;
  expect_gradients_match(max, {2, 2, 4, 6}, o);
}

TEST(Flatten, KeepsTheOrder) {
  Flatten flatten;
  EXPECT_EQ(flatten.build({1, 2, 3, 4}), (Shape{1, 24, 1, 1}));
  expect_gradients_match(flatten, {2, 2, 3, 4});
}

TEST(ZeroPad2D, PadsEachPlaneAndPassesTheInnerGradientBack) {
  ZeroPad2D pad(Padding::pixels(1, 0, 2, 1));  // top, left, bottom, right
  EXPECT_EQ(pad.build({1, 2, 2, 3}), (Shape{1, 2, 5, 4}));
  Tensor x({1, 1, 2, 2}), y;
  x[0] = 1.f, x[1] = 2.f, x[2] = 3.f, x[3] = 4.f;
  pad.build(x.shape());
  pad.forward(x, y, {});
  const std::vector<float> expected = {0, 0, 0,  // one row above, one column to the right
                                       1, 2, 0, 3, 4, 0, 0, 0, 0, 0, 0, 0};
  ASSERT_EQ(y.shape(), (Shape{1, 1, 5, 3}));
  EXPECT_EQ(std::vector<float>(y.span().begin(), y.span().end()), expected);
  expect_gradients_match(pad, {2, 3, 3, 2});
  EXPECT_THROW(ZeroPad2D(Padding::kSame), Error);
}

TEST(Dropout, EvalIsTheIdentityAndTrainScalesTheKeptOnes) {
  Dropout dropout(0.25f);
  dropout.build({1, 100, 1, 1});
  Tensor x({40, 100, 1, 1}, 2.f), y;
  dropout.forward(x, y, {Mode::kEval, 1, 0, {}, 3});
  for (float v : y.span()) ASSERT_EQ(v, 2.f);
  dropout.forward(x, y, {Mode::kTrain, 1, 0, {}, 3});
  int dropped = 0;
  for (float v : y.span()) {
    ASSERT_TRUE(v == 0.f || std::abs(v - 2.f / 0.75f) < 1e-6f) << v;
    dropped += v == 0.f;
  }
  EXPECT_NEAR(dropped / 4000.0, 0.25, 0.03);
}

TEST(Dropout, MasksFollowTheSampleNotTheRow) {
  Dropout dropout(0.5f);
  dropout.build({1, 64, 1, 1});
  Tensor x({2, 64, 1, 1}, 1.f), y_ab, y_ba;
  const std::uint64_t ab[] = {10, 20}, ba[] = {20, 10};
  dropout.forward(x, y_ab, {Mode::kTrain, 7, 1, ab, 2});
  dropout.forward(x, y_ba, {Mode::kTrain, 7, 1, ba, 2});
  for (std::int64_t e = 0; e < 64; ++e) {
    ASSERT_EQ(y_ab[e], y_ba[64 + e]);  // sample 10's mask, in row 0 or in row 1
    ASSERT_EQ(y_ab[64 + e], y_ba[e]);
  }
  Tensor y_other_layer;
  dropout.forward(x, y_other_layer, {Mode::kTrain, 7, 1, ab, 3});
  EXPECT_NE(std::vector<float>(y_ab.span().begin(), y_ab.span().end()),
            std::vector<float>(y_other_layer.span().begin(), y_other_layer.span().end()));
}

// The masks are those of "drop when Rng::uniform() < rate" under the layer's key, for rates that
// are and are not exact binary fractions.
TEST(Dropout, MasksAreTheKeyedUniformDraws) {
  for (const float rate : {0.1f, 0.25f, 0.3f, 0.5f, 0.9f}) {
    Dropout dropout(rate);
    dropout.build({1, 500, 1, 1});
    Tensor x({1, 500, 1, 1}, 1.f), y;
    const std::uint64_t rows[] = {42};
    dropout.forward(x, y, {Mode::kTrain, 3, 2, rows, 5});
    Rng rng({3, 2, 42, kSlotLayerBase + 5});
    for (std::int64_t e = 0; e < 500; ++e)
      ASSERT_EQ(y[e] == 0.f, rng.uniform() < rate) << "rate " << rate << ", element " << e;
  }
}

TEST(Dropout, GradientsMatchFiniteDifferences) {
  Dropout dropout(0.3f);  // the mask is keyed, so every forward of the check draws the same one
  expect_gradients_match(dropout, {3, 4, 2, 2});
}

TEST(BatchNorm, GradientsMatchFiniteDifferencesAfterDenseAndConv) {
  testing::GradientCheckOptions o;
  // Batch-norm input gradients are small (they sum to zero per channel): judge them relatively.
  o.epsilon = 1e-2f;
  o.tolerance = 2e-2;
  o.floor = 1e-2;
  BatchNorm after_dense(0.9f, 1e-3f);
  expect_gradients_match(after_dense, {6, 4, 1, 1}, o);
  BatchNorm after_conv(0.9f, 1e-3f);
  expect_gradients_match(after_conv, {3, 2, 3, 4}, o);
}

TEST(BatchNorm, TrainNormalizesTheBatchAndEvalUsesRunningStatistics) {
  BatchNorm bn(0.5f, 1e-5f);
  bn.build({1, 2, 2, 2});
  Tensor x({4, 2, 2, 2}), y;
  fill_uniform(x, 8, 3.f, 7.f);
  bn.forward(x, y, {Mode::kTrain, 0, 0, {}, 0});
  for (int c = 0; c < 2; ++c) {
    double sum = 0, sq = 0;
    for (int n = 0; n < 4; ++n)
      for (int i = 0; i < 4; ++i) {
        const double v = y[(n * 2 + c) * 4 + i];
        sum += v;
        sq += v * v;
      }
    EXPECT_NEAR(sum / 16, 0.0, 1e-5);
    EXPECT_NEAR(sq / 16, 1.0, 1e-3);
  }
  // running_mean after one step with momentum 0.5: 0.5·0 + 0.5·batch mean (about 5).
  const float running_mean = bn.buffers()[0]->value[0];
  EXPECT_NEAR(running_mean, 2.5f, 0.3f);
  // Eval: a single sample is normalized by the running statistics, not by itself.
  Tensor one({1, 2, 2, 2}, 5.f), y_eval;
  bn.forward(one, y_eval, {Mode::kEval, 0, 0, {}, 0});
  const float running_var = bn.buffers()[1]->value[0];
  EXPECT_NEAR(y_eval[0], (5.f - running_mean) / std::sqrt(running_var + 1e-5f), 1e-4);
}

TEST(LocalResponseNorm, GradientsMatchFiniteDifferencesAndHandValues) {
  testing::GradientCheckOptions o;
  o.epsilon = 1e-2f;
  LocalResponseNorm strong(
      {.size = 3, .alpha = 0.5f, .beta = 0.75f, .k = 1.f});  // large α: a real cross term
  expect_gradients_match(strong, {2, 5, 2, 3}, o);
  // One position, 3 channels x = (1, 2, 3), size 3, α = 1, β = 1, k = 1:
  //   s = (1 + 1 + 4, 1 + 1 + 4 + 9, 1 + 4 + 9) = (6, 15, 14); y = x / s
  LocalResponseNorm lrn({.size = 3, .alpha = 1.f, .beta = 1.f, .k = 1.f});
  lrn.build({1, 3, 1, 1});
  Tensor x({1, 3, 1, 1}), y;
  x[0] = 1.f;
  x[1] = 2.f;
  x[2] = 3.f;
  lrn.forward(x, y, {});
  EXPECT_FLOAT_EQ(y[0], 1.f / 6.f);
  EXPECT_FLOAT_EQ(y[1], 2.f / 15.f);
  EXPECT_FLOAT_EQ(y[2], 3.f / 14.f);
  EXPECT_THROW(LocalResponseNorm({.size = 4}), Error);
}

// The first layer of a model skips its input gradient; its parameter gradients must not change.
TEST(FirstLayer, ParameterOnlyBackwardGivesTheSameGradients) {
  for (const Json& config :
       {Json{{"type", "dense"}, {"units", 5}},
        Json{{"type", "conv2d"}, {"filters", 3}, {"padding", "same"}, {"strides", 2}}}) {
    Json options = config;
    options.erase("type");
    auto full = make_layer(config.at("type"), options);
    auto only = make_layer(config.at("type"), options);
    const Shape input{6, 2, 5, 4};
    full->build(input);
    only->build(input);
    Rng a({1, 0, 0, kSlotInit}), b({1, 0, 0, kSlotInit});
    full->initialize(a);
    only->initialize(b);
    Tensor x(input), y, dy, dx;
    fill_uniform(x, 2, -1, 1);
    full->forward(x, y, {});
    dy.resize(y.shape());
    fill_uniform(dy, 3, -1, 1);
    full->backward(x, y, dy, dx);
    backward_parameters(*only, x, y, dy);
    for (std::size_t p = 0; p < full->parameters().size(); ++p) {
      const auto& g1 = full->parameters()[p]->grad;
      const auto& g2 = only->parameters()[p]->grad;
      EXPECT_TRUE(std::equal(g1.span().begin(), g1.span().end(), g2.span().begin()))
          << config.dump();
    }
  }
}

// Every registered type, from the example options its registry line gives: its config round-trips
// and its gradients match finite differences on a (2, 6, 6) input. A new layer is checked here
// without anyone editing a list.
TEST(Registry, EveryLayerTypeRoundTripsItsConfig) {
  ASSERT_FALSE(layer_infos().empty());
  for (const LayerInfo& info : layer_infos()) {
    const std::string type(info.type);
    auto layer = make_layer(type, Json::parse(info.example));
    EXPECT_EQ(layer->type(), type);
    auto again = make_layer(type, layer->config());
    EXPECT_EQ(again->config(), layer->config()) << type;
  }
}

TEST(Registry, EveryLayerTypesGradientsMatchFiniteDifferences) {
  for (const LayerInfo& info : layer_infos()) {
    SCOPED_TRACE(std::string(info.type));
    auto layer = make_layer(std::string(info.type), Json::parse(info.example));
    testing::GradientCheckOptions o;
    o.epsilon = 1e-3f;
    // ReLU-like layers: inputs away from the kink, where the derivative is defined.
    if (info.type == "relu" || info.type == "leaky_relu" || info.type == "relu6")
      o.input_lo = 0.05f;
    expect_gradients_match(*layer, {2, 2, 6, 6}, o);
  }
}

TEST(Registry, RefusesMistakesByName) {
  EXPECT_THROW(make_layer("conv2d", {{"filters", 2}, {"kernel", 3}}), Error);
  EXPECT_THROW(make_layer("conv2d", {{"filters", 2}, {"padding", "full"}}), Error);
  EXPECT_THROW(make_layer("dropout", {{"rate", 1.0}}), Error);
}

}  // namespace
}  // namespace kiln::nn
