#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <algorithm>
#include <vector>

#include "nn/error.hpp"
#include "nn/layers/dense.hpp"
#include "nn/layers/registry.hpp"
#include "tests/support/gradient_check.hpp"

namespace kiln::nn {
namespace {

TEST(Dense, GradientsMatchFiniteDifferences) {
  Dense dense({7, "he_normal", true});
  testing::expect_gradients_match(dense, {3, 2, 3, 2});
}

TEST(Dense, GradientsMatchWithoutBiasOnLargeBatch) {
  // 70 rows: more than one row chunk, so the chunked paths are checked too.
  Dense dense({3, "glorot_uniform", false});
  testing::expect_gradients_match(dense, {70, 4, 1, 1});
}

TEST(Dense, ForwardMatchesHandComputedValues) {
  Dense dense({2, "he_normal", true});
  dense.build({1, 3, 1, 1});
  auto params = dense.parameters();
  // W = [[1, 2, 3], [-1, 0, 1]], b = [0.5, -0.5]
  const float w[] = {1, 2, 3, -1, 0, 1};
  std::copy(std::begin(w), std::end(w), params[0]->value.data());
  params[1]->value[0] = 0.5f;
  params[1]->value[1] = -0.5f;
  Tensor x({2, 3, 1, 1});
  const float xs[] = {1, 1, 1, 2, 0, -1};
  std::copy(std::begin(xs), std::end(xs), x.data());
  Tensor y;
  dense.forward(x, y, {});
  ASSERT_EQ(y.shape(), (Shape{2, 2, 1, 1}));
  EXPECT_FLOAT_EQ(y[0], 6.5f);   // 1+2+3+0.5
  EXPECT_FLOAT_EQ(y[1], -0.5f);  // -1+0+1-0.5
  EXPECT_FLOAT_EQ(y[2], -0.5f);  // 2+0-3+0.5
  EXPECT_FLOAT_EQ(y[3], -3.5f);  // -2+0-1-0.5
}

TEST(Dense, EveryPassMatchesTheDefinitionAcrossPanelsBlocksAndTails) {
  // 70 units: two whole 32-unit panels of Wᵀ and a 6-unit one; 37 inputs: two 16 × 16 blocks of
  // the packing transpose and a 5-input tail; 13 rows: one whole 12-row tile and one row. With the
  // ReLU absorbed, as a model builds it. Against the formulas in double precision.
  const std::int64_t units = 70, k = 37, n = 13;
  Dense dense({units, "he_normal", true});
  dense.build({1, k, 1, 1});
  ASSERT_TRUE(absorb_relu(dense));
  Rng rng({3, 0, 0, kSlotInit});
  dense.initialize(rng);
  const Tensor& w = dense.parameters()[0]->value;
  Tensor& b = dense.parameters()[1]->value;
  testing::fill_uniform(b, 5, -0.3f, 0.3f);
  Tensor x({n, k, 1, 1}), y, dy({n, units, 1, 1}), dx;
  testing::fill_uniform(x, 1, -1, 1);
  testing::fill_uniform(dy, 2, -1, 1);
  dense.forward(x, y, {});
  dense.backward(x, y, dy, dx);

  std::vector<double> g(static_cast<std::size_t>(n * units));  // dy through the ReLU
  for (std::int64_t r = 0; r < n; ++r) {
    for (std::int64_t u = 0; u < units; ++u) {
      double pre = b[u];
      for (std::int64_t p = 0; p < k; ++p) pre += double(x[r * k + p]) * w[u * k + p];
      ASSERT_NEAR(y[r * units + u], std::max(pre, 0.0), 1e-5) << "y at " << r << ", " << u;
      g[r * units + u] = pre > 0 ? dy[r * units + u] : 0.0;
    }
  }
  for (std::int64_t r = 0; r < n; ++r) {
    for (std::int64_t p = 0; p < k; ++p) {
      double want = 0;
      for (std::int64_t u = 0; u < units; ++u) want += g[r * units + u] * w[u * k + p];
      ASSERT_NEAR(dx[r * k + p], want, 1e-5) << "dx at " << r << ", " << p;
    }
  }
  const Tensor& dw = dense.parameters()[0]->grad;
  const Tensor& db = dense.parameters()[1]->grad;
  for (std::int64_t u = 0; u < units; ++u) {
    double bias_sum = 0;
    for (std::int64_t r = 0; r < n; ++r) bias_sum += g[r * units + u];
    ASSERT_NEAR(db[u], bias_sum, 1e-5) << "db at " << u;
    for (std::int64_t p = 0; p < k; ++p) {
      double want = 0;
      for (std::int64_t r = 0; r < n; ++r) want += g[r * units + u] * x[r * k + p];
      ASSERT_NEAR(dw[u * k + p], want, 1e-5) << "dW at " << u << ", " << p;
    }
  }
}

TEST(Dense, ResultsDoNotDependOnTheThreadCount) {
  auto run = [](int threads) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
    Dense dense({33, "he_normal", true});
    dense.build({1, 50, 1, 1});
    Rng rng({1, 0, 0, kSlotInit});
    dense.initialize(rng);
    Tensor x({200, 50, 1, 1}), y, dy({200, 33, 1, 1}), dx;
    testing::fill_uniform(x, 1, -1, 1);
    testing::fill_uniform(dy, 2, -1, 1);
    dense.forward(x, y, {});
    dense.backward(x, y, dy, dx);
    std::vector<float> all(y.span().begin(), y.span().end());
    all.insert(all.end(), dx.span().begin(), dx.span().end());
    for (Parameter* p : dense.parameters())
      all.insert(all.end(), p->grad.span().begin(), p->grad.span().end());
    return all;
  };
  EXPECT_EQ(run(1), run(2));
}

TEST(Dense, RejectsBadOptions) {
  EXPECT_THROW(Dense({.units = 0, .weights = {.init = "he_normal", .use_bias = true}}), Error);
  EXPECT_THROW(
      Dense({.units = 3, .weights = {.init = "uniformish", .use_bias = true, .bias_init = 0.f}}),
      Error);
}

TEST(Registry, BuildsLayersAndRejectsTypos) {
  EXPECT_EQ(make_layer("dense", {{"units", 4}})->type(), "dense");
  EXPECT_EQ(make_layer("relu", Json::object())->type(), "relu");
  try {
    make_layer("dense", {{"unit", 4}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown option 'unit'"), std::string::npos);
  }
  EXPECT_THROW(make_layer("conv9d", Json::object()), Error);
  // The weight options shared by dense and conv2d (nn/layers/weights.hpp) are checked by type.
  for (const char* type : {"dense", "conv2d"}) {
    const Json base = std::string(type) == "dense" ? Json{{"units", 2}} : Json{{"filters", 2}};
    for (const Json& bad :
         {Json{{"use_bias", "yes"}}, Json{{"bias_init", "small"}}, Json{{"init", "xavier_glorot"}},
          Json{{"kernel_regularizer", {{"l2", -1}}}}}) {
      Json options = base;
      options.update(bad);
      EXPECT_THROW(make_layer(type, options), Error) << type << " " << bad.dump();
    }
    Json good = base;
    good.update({{"use_bias", false}, {"init", {{"type", "constant"}, {"value", 0.5}}}});
    auto layer = make_layer(type, good);
    layer->build({1, 1, 4, 4});
    EXPECT_EQ(layer->parameters().size(), 1u) << "use_bias false: the weight only";
    EXPECT_EQ(make_layer(type, good)->config().at("use_bias"), false);
  }
}

}  // namespace
}  // namespace kiln::nn
