#include <gtest/gtest.h>

#include <cmath>

#include "nn/error.hpp"
#include "nn/init.hpp"
#include "nn/layers/conv/conv2d.hpp"

namespace kiln::nn {
namespace {

struct Moments {
  double mean = 0, stddev = 0, max_abs = 0;
};

Moments draw(const Initializer& init, std::int64_t fan_in, std::int64_t fan_out) {
  std::vector<float> values(200000);
  Rng rng({1, 0, 0, kSlotInit});
  fill_initializer(init, values, fan_in, fan_out, rng);
  Moments m;
  for (float v : values) {
    m.mean += v;
    m.max_abs = std::max(m.max_abs, static_cast<double>(std::abs(v)));
  }
  m.mean /= static_cast<double>(values.size());
  for (float v : values) m.stddev += (v - m.mean) * (v - m.mean);
  m.stddev = std::sqrt(m.stddev / static_cast<double>(values.size()));
  return m;
}

// Each initializer's standard deviation against its formula, with fan_in 300, fan_out 100.
TEST(Initializers, FollowTheirFormulas) {
  const double in = 300, out = 100;
  struct Case {
    const char* name;
    double stddev;
    double limit;  // 0: unbounded (normal)
  };
  const Case cases[] = {
      {"normal", 0.01, 0},
      {"glorot_uniform", std::sqrt(6 / (in + out)) / std::sqrt(3.0), std::sqrt(6 / (in + out))},
      {"glorot_normal", std::sqrt(2 / (in + out)), 0},
      {"caffe_xavier", std::sqrt(1 / in), std::sqrt(3 / in)},
      {"he_normal", std::sqrt(2 / in), 0},
      {"he_uniform", std::sqrt(2 / in), std::sqrt(6 / in)},
  };
  for (const Case& c : cases) {
    const Moments m = draw(Initializer(c.name), 300, 100);
    EXPECT_NEAR(m.mean, 0.0, 0.01 * c.stddev + 1e-4) << c.name;
    EXPECT_NEAR(m.stddev, c.stddev, 0.01 * c.stddev) << c.name;
    if (c.limit > 0) {
      EXPECT_LE(m.max_abs, c.limit) << c.name;
    }
  }
  EXPECT_EQ(draw(Initializer("zeros"), 3, 3).max_abs, 0.0);
  const Moments constant = draw(Initializer("constant", 0.1f), 3, 3);
  EXPECT_NEAR(constant.mean, 0.1, 1e-6);
  EXPECT_NEAR(constant.stddev, 0.0, 1e-6);
}

TEST(Initializers, ParseFromConfigs) {
  EXPECT_EQ(Initializer::from_json("he_uniform", "test").type, "he_uniform");
  const Initializer c = Initializer::from_json({{"type", "constant"}, {"value", 0.25}}, "test");
  EXPECT_EQ(c.type, "constant");
  EXPECT_FLOAT_EQ(c.value, 0.25f);
  EXPECT_EQ(Initializer::from_json(c.to_json(), "test").value, 0.25f);
  EXPECT_THROW(Initializer::from_json("xavier_glorot", "test"), Error);
  EXPECT_THROW(Initializer::from_json({{"type", "normal"}, {"std", 1}}, "test"), Error);
}

TEST(Initializers, ConvUsesKerasFans) {
  // Conv (F=16, C=8, 3x3): fan_in = 72, fan_out = 144; glorot_uniform limit sqrt(6 / 216).
  Conv2D conv({.filters = 16,
               .kernel = {3, 3},
               .strides = {1, 1},
               .padding = Padding::kValid,
               .weights = {.init = "glorot_uniform", .use_bias = true, .bias_init = 0.1f}});
  conv.build({1, 8, 10, 10});
  Rng rng({1, 0, 0, kSlotInit});
  conv.initialize(rng);
  const auto params = conv.parameters();
  float max_abs = 0.f;
  for (float v : params[0]->value.span()) max_abs = std::max(max_abs, std::abs(v));
  EXPECT_LE(max_abs, std::sqrt(6.f / 216.f));
  EXPECT_GT(max_abs, 0.9f * std::sqrt(6.f / 216.f));
  for (float b : params[1]->value.span()) EXPECT_FLOAT_EQ(b, 0.1f);  // bias_init
}

}  // namespace
}  // namespace kiln::nn
