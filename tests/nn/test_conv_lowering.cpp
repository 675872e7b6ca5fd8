// Conv2D's two im2col lowerings (sample by sample, and the whole batch as one product for large
// weights on small outputs) against the convolution's direct definition in double, in every
// pass: output, input gradient, weight and bias gradients, with and without an absorbed ReLU.
#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <algorithm>
#include <cmath>

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

TEST(ConvLowering, TheWholeBatchDoesNotDependOnTheThreadCount) {
  auto run = [](int threads) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
    Conv2D conv({.filters = 130,
                 .padding = Padding::kSame,
                 .algorithm = ConvAlgorithm::kGemm,
                 .weights = {.use_bias = true}});
    conv.build({1, 120, 5, 5});
    EXPECT_TRUE(conv.lowers_whole_batch());
    conv.absorb_relu();
    Rng rng({1, 0, 0, kSlotInit});
    conv.initialize(rng);
    Tensor x({9, 120, 5, 5}), y, dy({9, 130, 5, 5}), dx;
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
  EXPECT_EQ(run(1), run(2));
}

}  // namespace
}  // namespace kiln::nn
