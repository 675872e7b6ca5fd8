#include <gtest/gtest.h>

#include <cmath>

#include "nn/error.hpp"
#include "nn/layers/registry.hpp"
#include "nn/model/model.hpp"
#include "nn/training/regularizer.hpp"
#include "tests/support/gradient_check.hpp"

namespace kiln::nn {
namespace {

Parameter weights(std::initializer_list<float> values, Regularization r) {
  Parameter p{"weight", Tensor({1, static_cast<std::int64_t>(values.size()), 1, 1}),
              Tensor({1, static_cast<std::int64_t>(values.size()), 1, 1}), r};
  std::copy(values.begin(), values.end(), p.value.data());
  return p;
}

TEST(Regularizer, PenaltyAndGradientFollowKeras) {
  // w = (1, -2, 0): Σ|w| = 3, Σw² = 5.
  Parameter p = weights({1.f, -2.f, 0.f}, {.l1 = 0.1f, .l2 = 0.01f});
  EXPECT_NEAR(regularization_penalty(p), 0.1 * 3 + 0.01 * 5, 1e-7);
  add_regularization_gradient(p);
  EXPECT_FLOAT_EQ(p.grad[0], 0.1f + 0.02f * 1.f);
  EXPECT_FLOAT_EQ(p.grad[1], -0.1f + 0.02f * -2.f);
  EXPECT_FLOAT_EQ(p.grad[2], 0.f);  // sign(0) = 0
}

TEST(Regularizer, MaxNormRescalesEachUnitOnItsOwn) {
  // Two units (rows) of 2 weights: (3, 4) has norm 5 → scaled to norm 2; (0.6, 0.8) is left alone.
  Parameter p{"weight", Tensor({2, 2, 1, 1}), Tensor({2, 2, 1, 1}), {.max_norm = 2.f}};
  const float w[] = {3.f, 4.f, 0.6f, 0.8f};
  std::copy(std::begin(w), std::end(w), p.value.data());
  apply_max_norm(p);
  EXPECT_FLOAT_EQ(p.value[0], 1.2f);
  EXPECT_FLOAT_EQ(p.value[1], 1.6f);
  EXPECT_FLOAT_EQ(p.value[2], 0.6f);
  EXPECT_FLOAT_EQ(p.value[3], 0.8f);
}

TEST(Regularizer, ModelPenaltyGradientMatchesFiniteDifferences) {
  Model model = Model::from_config({{"input", {3, 1, 1}},
                                    {"layers",
                                     {{{"type", "dense"},
                                       {"units", 2},
                                       {"kernel_regularizer", {{"l1", 0.05}, {"l2", 0.2}}},
                                       {"bias_regularizer", {{"l2", 0.1}}}}}}});
  model.initialize(4);
  for (Parameter* p : model.parameters())
    testing::fill_uniform(p->value, 5 + p->value.size(), 0.2f, 1.f);
  model.zero_grad();
  model.add_regularization_gradients();
  const float eps = 1e-3f;
  for (Parameter* p : model.parameters()) {
    for (std::int64_t i = 0; i < p->value.size(); ++i) {
      const float saved = p->value[i];
      p->value[i] = saved + eps;
      const double plus = model.regularization_penalty();
      p->value[i] = saved - eps;
      const double minus = model.regularization_penalty();
      p->value[i] = saved;
      EXPECT_NEAR(p->grad[i], (plus - minus) / (2 * eps), 1e-4) << p->name << "[" << i << "]";
    }
  }
  // The options round-trip through the layer config.
  EXPECT_EQ(Model::from_config(model.config()).config(), model.config());
}

TEST(Regularizer, RejectsUnknownOrNegativeTerms) {
  EXPECT_THROW(make_layer("dense", {{"units", 2}, {"kernel_regularizer", {{"l3", 0.1}}}}), Error);
  EXPECT_THROW(make_layer("dense", {{"units", 2}, {"kernel_regularizer", {{"l2", -0.1}}}}), Error);
  EXPECT_THROW(make_layer("conv2d", {{"filters", 2}, {"kernel_regularizer", 0.1}}), Error);
}

}  // namespace
}  // namespace kiln::nn
