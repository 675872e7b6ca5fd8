// Conv2D's two im2col lowerings (sample by sample, and the whole batch as one product for large
// weights on small outputs), and Winograd over the whole batch, against the convolution's direct
// definition in double, in every pass: output, input gradient, weight and bias gradients, with
// and without an absorbed ReLU.
#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "nn/kernels/gemm.hpp"
#include "nn/layers/conv/conv2d.hpp"
#include "tests/support/gradient_check.hpp"

namespace kiln::nn {
namespace {

using testing::fill_uniform;

struct Direct {
  std::vector<double> y, dx, dw, db;
};

// y = conv(x) + b (then max(0, ·) with relu), and the gradients of dot(y, dy), summed in double
// straight from the definition: y[n,f,oy,ox] = b[f] + Σ w[f,c,i,j]·x[n,c,oy·s−p+i,ox·s−p+j].
Direct direct_convolution(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& dy,
                          std::int64_t stride, std::int64_t pad, bool relu) {
  const Shape xs = x.shape(), ws = w.shape(), ys = dy.shape();
  Direct d;
  d.y.assign(static_cast<std::size_t>(ys.count()), 0.0);
  d.dx.assign(static_cast<std::size_t>(xs.count()), 0.0);
  d.dw.assign(static_cast<std::size_t>(ws.count()), 0.0);
  d.db.assign(static_cast<std::size_t>(ws.n), 0.0);
  auto x_at = [&](std::int64_t n, std::int64_t c, std::int64_t yy, std::int64_t xx) {
    return ((n * xs.c + c) * xs.h + yy) * xs.w + xx;
  };
  auto w_at = [&](std::int64_t f, std::int64_t c, std::int64_t i, std::int64_t j) {
    return ((f * ws.c + c) * ws.h + i) * ws.w + j;
  };
  for (int pass = 0; pass < 2; ++pass)  // 0: outputs; 1: gradients through them
    for (std::int64_t n = 0; n < ys.n; ++n)
      for (std::int64_t f = 0; f < ys.c; ++f)
        for (std::int64_t oy = 0; oy < ys.h; ++oy)
          for (std::int64_t ox = 0; ox < ys.w; ++ox) {
            const std::int64_t at = ((n * ys.c + f) * ys.h + oy) * ys.w + ox;
            double sum = b[f], g = 0;
            if (pass == 1) {
              g = (relu && d.y[static_cast<std::size_t>(at)] <= 0) ? 0.0 : dy[at];
              d.db[static_cast<std::size_t>(f)] += g;
            }
            for (std::int64_t c = 0; c < xs.c; ++c)
              for (std::int64_t i = 0; i < ws.h; ++i)
                for (std::int64_t j = 0; j < ws.w; ++j) {
                  const std::int64_t yy = oy * stride - pad + i, xx = ox * stride - pad + j;
                  if (yy < 0 || yy >= xs.h || xx < 0 || xx >= xs.w) continue;
                  if (pass == 0) {
                    sum += double{w[w_at(f, c, i, j)]} * x[x_at(n, c, yy, xx)];
                  } else {
                    d.dw[static_cast<std::size_t>(w_at(f, c, i, j))] += g * x[x_at(n, c, yy, xx)];
                    d.dx[static_cast<std::size_t>(x_at(n, c, yy, xx))] += g * w[w_at(f, c, i, j)];
                  }
                }
            if (pass == 0) d.y[static_cast<std::size_t>(at)] = relu ? std::max(sum, 0.0) : sum;
          }
  return d;
}

void expect_near(const Tensor& got, const std::vector<double>& want, const char* what) {
  ASSERT_EQ(static_cast<std::size_t>(got.size()), want.size()) << what;
  double scale = 0;
  for (const double v : want) scale = std::max(scale, std::fabs(v));
  ASSERT_GT(scale, 0.0) << what;
  for (std::size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(got[static_cast<std::int64_t>(i)], want[i], 1e-5 * scale) << what << " " << i;
}

struct LoweringCase {
  Shape input;
  std::int64_t filters, stride;
  bool whole_batch;  // which lowering build() must choose
};

class ConvLowering : public ::testing::TestWithParam<LoweringCase> {};

TEST_P(ConvLowering, MatchesTheDirectDefinitionInEveryPass) {
  const LoweringCase& k = GetParam();
  for (const bool relu : {false, true}) {
    SCOPED_TRACE(relu ? "with an absorbed ReLU" : "alone");
    Conv2D conv({.filters = k.filters,
                 .strides = {k.stride, k.stride},
                 .padding = Padding::kSame,
                 .algorithm = ConvAlgorithm::kGemm,
                 .weights = {.init = "he_normal", .use_bias = true}});
    const Shape out = conv.build(k.input.with_n(1));
    ASSERT_EQ(conv.lowers_whole_batch(), k.whole_batch);
    if (relu) conv.absorb_relu();
    Rng rng({4, 0, 0, kSlotInit});
    conv.initialize(rng);
    Tensor& w = conv.parameters()[0]->value;
    Tensor& b = conv.parameters()[1]->value;
    fill_uniform(b, 6, -0.5f, 0.5f);
    Tensor x(k.input), y, dy(out.with_n(k.input.n)), dx;
    fill_uniform(x, 7, -1, 1);
    fill_uniform(dy, 8, -1, 1);
    conv.forward(x, y, {});
    conv.backward(x, y, dy, dx);
    const Direct d = direct_convolution(x, w, b, dy, k.stride, 1, relu);
    expect_near(y, d.y, "y");
    expect_near(dx, d.dx, "dx");
    expect_near(conv.parameters()[0]->grad, d.dw, "weight gradient");
    expect_near(conv.parameters()[1]->grad, d.db, "bias gradient");
  }
}

INSTANTIATE_TEST_SUITE_P(
    BothLowerings, ConvLowering,
    ::testing::Values(
        // 3×3×128 → 128: 576 KB of weights on 4×4 outputs: one product for the batch.
        LoweringCase{{3, 128, 4, 4}, 128, 1, true},
        // Strided, odd sizes, a partial last block of rows and of columns.
        LoweringCase{{2, 100, 9, 7}, 150, 2, true},
        // Small weights: sample by sample, on small and on large outputs.
        LoweringCase{{5, 3, 6, 5}, 4, 1, false}, LoweringCase{{2, 3, 17, 16}, 4, 1, false}));

// Every output and gradient of a convolution (with an absorbed ReLU and a bias) on a batch of 9,
// run with `threads` threads: 130 filters on 120 channels of `size`×`size`. `check` sees the
// layer after build(): the path under test must be the one taken.
std::vector<float> outputs_and_gradients(Conv2DOptions options, std::int64_t size, int threads,
                                         const std::function<void(const Conv2D&)>& check) {
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
  options.filters = 130;
  options.padding = Padding::kSame;
  options.weights.use_bias = true;
  Conv2D conv(options);
  conv.build({1, 120, size, size});
  check(conv);
  conv.absorb_relu();
  Rng rng({1, 0, 0, kSlotInit});
  conv.initialize(rng);
  Tensor x({9, 120, size, size}), y, dy({9, 130, size, size}), dx;
  fill_uniform(x, 1, -1, 1);
  fill_uniform(dy, 2, -1, 1);
  conv.forward(x, y, {});
  conv.backward(x, y, dy, dx);
  std::vector<float> all(y.span().begin(), y.span().end());
  all.insert(all.end(), dx.span().begin(), dx.span().end());
  for (Parameter* p : conv.parameters())
    all.insert(all.end(), p->grad.span().begin(), p->grad.span().end());
  return all;
}

TEST(ConvLowering, TheWholeBatchDoesNotDependOnTheThreadCount) {
  auto run = [](int threads) {
    return outputs_and_gradients(
        {.algorithm = ConvAlgorithm::kGemm}, 5, threads,
        [](const Conv2D& conv) { EXPECT_TRUE(conv.lowers_whole_batch()); });
  };
  EXPECT_EQ(run(1), run(2));
}

// Winograd over the whole batch, where the lowering above would apply (590 KB of weights on
// 7×7 outputs: an odd edge, whose last tiles are cut off), in every pass against the definition.
TEST(ConvWinogradBatch, MatchesTheDirectDefinitionInEveryPass) {
  for (const bool relu : {false, true}) {
    SCOPED_TRACE(relu ? "with an absorbed ReLU" : "alone");
    Conv2D conv({.filters = 128,
                 .padding = Padding::kSame,
                 .weights = {.init = "he_normal", .use_bias = true}});
    const Shape input{3, 128, 7, 7};
    const Shape out = conv.build(input.with_n(1));
    ASSERT_EQ(conv.algorithm(), ConvAlgorithm::kWinograd);
    ASSERT_TRUE(conv.winograd_over_batch());
    if (relu) conv.absorb_relu();
    Rng rng({5, 0, 0, kSlotInit});
    conv.initialize(rng);
    Tensor& b = conv.parameters()[1]->value;
    fill_uniform(b, 6, -0.5f, 0.5f);
    Tensor x(input), y, dy(out.with_n(input.n)), dx;
    fill_uniform(x, 7, -1, 1);
    fill_uniform(dy, 8, -1, 1);
    conv.forward(x, y, {});
    conv.backward(x, y, dy, dx);
    const Direct d = direct_convolution(x, conv.parameters()[0]->value, b, dy, 1, 1, relu);
    expect_near(y, d.y, "y");
    expect_near(dx, d.dx, "dx");
    expect_near(conv.parameters()[0]->grad, d.dw, "weight gradient");
    expect_near(conv.parameters()[1]->grad, d.db, "bias gradient");
  }
}

// The batch passes against the grouped ones on the same samples: the outputs and the input
// gradient are the same floats (every element is the same chain, whichever columns share a
// GEMM); the transformed weight gradient sums the same terms in another grouping.
TEST(ConvWinogradBatch, GivesTheGroupedPassesValues) {
  const WinogradGeometry g{20, 9, 7, 24, 9, 7, 1, 1};
  const WinogradConv3x3 winograd(g);
  const std::int64_t samples = 5, in_size = 20 * 9 * 7, out_size = 24 * 9 * 7;
  const std::int64_t u_size = WinogradConv3x3::kPositions * 24 * 20;
  Tensor weights({24, 20, 3, 3}), x({samples, 20, 9, 7}), dy({samples, 24, 9, 7});
  fill_uniform(weights, 1, -1, 1);
  fill_uniform(x, 2, -1, 1);
  fill_uniform(dy, 3, -1, 1);
  std::vector<float> u(static_cast<std::size_t>(u_size)), bias(24, 0.25f);
  winograd.transform_weights(weights.data(), u.data());
  std::vector<float> y_groups(static_cast<std::size_t>(samples * out_size));
  std::vector<float> dx_groups(static_cast<std::size_t>(samples * in_size));
  std::vector<float> du_groups(static_cast<std::size_t>(u_size), 0.f);
  for (std::int64_t s = 0; s < samples; s += 2) {  // groups of 2, 2 and 1 samples
    const std::int64_t count = std::min<std::int64_t>(2, samples - s);
    winograd.forward(x.data() + s * in_size, count, u.data(), bias.data(), true, nullptr,
                     y_groups.data() + s * out_size);
    winograd.backward(x.data() + s * in_size, dy.data() + s * out_size, count, u.data(),
                      du_groups.data(), dx_groups.data() + s * in_size);
  }
  std::vector<float> y_batch(y_groups.size()), dx_batch(dx_groups.size()), du_batch(u.size());
  winograd.forward_batch(x.data(), samples, u.data(), bias.data(), true, nullptr, y_batch.data());
  winograd.backward_batch(x.data(), dy.data(), samples, u.data(), du_batch.data(), dx_batch.data());
  EXPECT_EQ(y_batch, y_groups);
  EXPECT_EQ(dx_batch, dx_groups);
  for (std::size_t i = 0; i < du_batch.size(); ++i)
    ASSERT_NEAR(du_batch[i], du_groups[i], 1e-4f * (1.f + std::fabs(du_groups[i]))) << i;
}

TEST(ConvWinogradBatch, DoesNotDependOnTheThreadCount) {
  auto run = [](int threads) {
    return outputs_and_gradients(
        {}, 6, threads, [](const Conv2D& conv) { EXPECT_TRUE(conv.winograd_over_batch()); });
  };
  EXPECT_EQ(run(1), run(2));
}

// A sample whose patches exceed the forward band (resnet18's stem: 7×7, stride 2, padding 3)
// is lowered and multiplied band of rows by band of rows; its outputs must be the very floats of
// one whole-sample lowering and product (a partial last band and padding at both ends included).
TEST(ConvLowering, ForwardBandsGiveTheWholeSampleProductExactly) {
  Conv2D conv({.filters = 8,
               .kernel = {7, 7},
               .strides = {2, 2},
               .padding = Padding::pixels(3, 3, 3, 3),
               .algorithm = ConvAlgorithm::kGemm,
               .weights = {.init = "he_normal", .use_bias = false}});
  const Shape input{2, 3, 100, 98};
  const Shape out = conv.build(input.with_n(1));
  ASSERT_EQ(out, (Shape{1, 8, 50, 49}));  // 3·49·2,450 floats of patches: 1.4 MB, banded
  Rng rng({2, 0, 0, kSlotInit});
  conv.initialize(rng);
  Tensor x(input), y;
  fill_uniform(x, 3, -1, 1);
  conv.forward(x, y, {});
  const std::int64_t k = 3 * 49, pixels = 50 * 49;
  const PatchGeometry whole{3,
                            100,
                            98,
                            {7, 7},
                            {2, 2},
                            {1, 1},
                            window_1d(100, 7, 2, Padding::pixels(3, 3, 3, 3), Axis::kHeight),
                            window_1d(98, 7, 2, Padding::pixels(3, 3, 3, 3), Axis::kWidth)};
  std::vector<float> col(static_cast<std::size_t>(k * pixels)), expected(8 * pixels);
  for (std::int64_t s = 0; s < input.n; ++s) {
    im2col(whole, x.data() + s * input.per_sample(), col.data(), pixels);
    gemm(8, pixels, k, {conv.parameters()[0]->value.data(), k, 1}, col.data(), pixels,
         expected.data(), pixels, false);
    for (std::int64_t i = 0; i < 8 * pixels; ++i)
      ASSERT_EQ(y[s * 8 * pixels + i], expected[static_cast<std::size_t>(i)]) << s << " " << i;
  }
}

// The table lowering of small outputs against im2col and col2im_add, value for value: stride 1
// and 2, padding on every side, dilation, the stem's 7×7, a 1×1 projection, and rows of 1 pixel.
TEST(PatchTable, CopiesAndAddsBackExactlyAsIm2col) {
  struct Case {
    std::int64_t channels, height, width, kernel, stride, dilation;
    Padding padding;
  };
  const Case cases[] = {{3, 4, 4, 3, 1, 1, Padding::kSame},
                        {2, 9, 7, 3, 2, 1, Padding::pixels(1, 1, 1, 1)},
                        {2, 8, 8, 3, 1, 2, Padding::pixels(2, 2, 2, 2)},
                        {3, 19, 17, 7, 2, 1, Padding::pixels(3, 3, 3, 3)},
                        {4, 7, 7, 1, 2, 1, Padding::kValid},
                        {2, 1, 5, 3, 1, 1, Padding::pixels(0, 1, 0, 1)}};
  for (const Case& k : cases) {
    SCOPED_TRACE(std::to_string(k.kernel) + "x" + std::to_string(k.kernel) + " on " +
                 std::to_string(k.height) + "x" + std::to_string(k.width));
    const std::int64_t extent = dilated_extent(k.kernel, k.dilation);
    const Window1d rows = window_1d(k.height, extent, k.stride, k.padding, Axis::kHeight);
    const Window1d cols = window_1d(k.width, extent, k.stride, k.padding, Axis::kWidth);
    const PatchGeometry g{k.channels,
                          k.height,
                          k.width,
                          {k.kernel, k.kernel},
                          {k.stride, k.stride},
                          {k.dilation, k.dilation},
                          rows,
                          cols};
    const std::int64_t stride = g.output_pixels() + 3;  // rows apart, as in the whole batch
    Tensor x({1, k.channels, k.height, k.width});
    fill_uniform(x, 5, -1, 1);
    std::vector<float> expected(static_cast<std::size_t>(g.patch_size() * stride), 7.f);
    std::vector<float> got = expected;
    im2col(g, x.data(), expected.data(), stride);
    const PatchTable table(g);
    table.im2col(x.data(), got.data(), stride);
    ASSERT_EQ(got, expected);
    // Back: col entries in (-1, 1) added to a nonzero image, so the order of additions shows.
    for (std::size_t i = 0; i < got.size(); ++i) got[i] = std::sin(static_cast<float>(i));
    Tensor dx_expected = x, dx_got = x;
    col2im_add(g, got.data(), stride, dx_expected.data());
    table.col2im_add(got.data(), stride, dx_got.data());
    for (std::int64_t i = 0; i < x.size(); ++i) ASSERT_EQ(dx_got[i], dx_expected[i]) << i;
  }
}

}  // namespace
}  // namespace kiln::nn
