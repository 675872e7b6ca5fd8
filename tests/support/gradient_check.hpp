// expect_gradients_match: checks a layer's backward() against central finite differences.
// f(x, θ) = dot(forward(x), dy) for a fixed random dy, accumulated in double (dlib's definition of
// backward). Each checked element: (f(v + ε) - f(v - ε)) / 2ε against the analytic gradient,
// |analytic - numeric| <= tolerance · max(floor, |analytic|, |numeric|).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "nn/layer.hpp"
#include "nn/random.hpp"

namespace kiln::testing {

inline double dot_with(const nn::Tensor& y, const nn::Tensor& dy) {
  double sum = 0.0;
  for (std::int64_t i = 0; i < y.size(); ++i) sum += static_cast<double>(y[i]) * dy[i];
  return sum;
}

// Fills t with uniform values in [lo, hi) drawn from a fixed key.
inline void fill_uniform(nn::Tensor& t, std::uint64_t seed, float lo, float hi) {
  nn::Rng rng({seed, 0, 0, 99});
  for (float& v : t.span()) v = rng.uniform(lo, hi);
}

// Layers compute in float: f is a sum of float outputs, so a central difference carries an error
// of about float rounding · |f| / ε (~1e-5 here) besides the O(ε²) truncation. The checks are
// relative, with a floor that keeps that noise from failing gradients near zero: a gradient of
// 0.01 is judged to 2e-4, not to 1e-2 as an absolute floor of 1 would, so a wrongly zeroed small
// gradient fails.
struct GradientCheckOptions {
  float epsilon = 1e-2f;
  double tolerance = 2e-3;
  double floor = 0.1;  // below this magnitude the error is judged against the floor
  float input_lo = -1.f, input_hi = 1.f;
};

inline void expect_gradients_match(nn::Layer& layer, nn::Shape input, GradientCheckOptions o = {}) {
  const nn::Shape out_per_sample = layer.build(input.with_n(1));
  nn::Rng init({1, 0, 0, nn::kSlotInit});
  layer.initialize(init);
  // Non-zero parameters everywhere (biases start at 0), so every path is exercised.
  for (nn::Parameter* p : layer.parameters())
    fill_uniform(p->value, 11 + p->value.size(), -0.5f, 0.5f);

  nn::Tensor x(input), y, dx;
  fill_uniform(x, 3, o.input_lo, o.input_hi);
  nn::Tensor dy(out_per_sample.with_n(input.n));
  fill_uniform(dy, 5, -1.f, 1.f);
  const nn::StepContext ctx{nn::Mode::kTrain, 1, 0, {}};

  layer.forward(x, y, ctx);
  ASSERT_EQ(y.shape(), dy.shape());
  for (nn::Parameter* p : layer.parameters()) p->grad.fill(0.f);
  layer.backward(x, y, dy, dx);
  ASSERT_EQ(dx.shape(), x.shape());

  auto f = [&]() {
    nn::Tensor out;
    layer.forward(x, out, ctx);
    return dot_with(out, dy);
  };
  auto check = [&](nn::Tensor& values, const nn::Tensor& analytic, const std::string& what) {
    for (std::int64_t i = 0; i < values.size(); ++i) {
      const float saved = values[i];
      values[i] = saved + o.epsilon;
      const double plus = f();
      values[i] = saved - o.epsilon;
      const double minus = f();
      values[i] = saved;
      const double numeric = (plus - minus) / (2.0 * o.epsilon);
      const double a = analytic[i];
      const double scale = std::max({o.floor, std::abs(a), std::abs(numeric)});
      ASSERT_LE(std::abs(a - numeric), o.tolerance * scale)
          << what << "[" << i << "]: analytic " << a << " vs numeric " << numeric;
    }
  };
  check(x, dx, "dx");
  for (nn::Parameter* p : layer.parameters()) check(p->value, p->grad, "d" + p->name);
}

// A whole model's parameter gradients (nn::Model: forward, backward, parameters) against central
// differences of f = dot(model(x), dy). Small epsilons keep steps from crossing ReLU kinks.
// Judged like a layer's: |analytic - numeric| <= tolerance · max(floor, |analytic|, |numeric|).
// Models are checked with small epsilons (steps must not cross ReLU kinks), where float noise in
// f is larger: 1% relative, 1e-3 absolute below 0.1 (a zeroed gradient of 0.01 fails).
template <class Model>
void expect_model_gradients_match(Model& model, const nn::Tensor& x, const nn::Tensor& dy,
                                  float epsilon, double tolerance = 1e-2, double floor = 0.1) {
  model.zero_grad();
  model.forward(x, {});
  model.backward(x, dy);
  for (nn::Parameter* p : model.parameters()) {
    for (std::int64_t i = 0; i < p->value.size(); ++i) {
      const float saved = p->value[i];
      p->value[i] = saved + epsilon;
      const double plus = dot_with(model.forward(x, {}), dy);
      p->value[i] = saved - epsilon;
      const double minus = dot_with(model.forward(x, {}), dy);
      p->value[i] = saved;
      const double numeric = (plus - minus) / (2 * epsilon), analytic = p->grad[i];
      const double scale = std::max({floor, std::abs(analytic), std::abs(numeric)});
      EXPECT_LE(std::abs(analytic - numeric), tolerance * scale)
          << p->name << "[" << i << "]: analytic " << analytic << " vs numeric " << numeric;
    }
  }
}

}  // namespace kiln::testing
