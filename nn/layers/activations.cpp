#include "nn/layers/activations.hpp"

#include <algorithm>
#include <cmath>

#include "nn/error.hpp"
#include "nn/layer_options.hpp"
#include "nn/parallel.hpp"

namespace kiln::nn {
namespace {
constexpr std::int64_t kElementChunk = 1 << 15;
}  // namespace

void relu_gradient(const float* y, const float* dy, std::int64_t count, float* dx) {
  // Through restrict pointers so the loop is vector code without a branch: written on tensors
  // (or on pointers captured by a closure), it reloaded the data pointers every element, as the
  // stores might change them, and stayed scalar, branching on y's sign.
  const float* __restrict outputs = y;
  const float* __restrict gradients = dy;
  float* __restrict out = dx;
  for (std::int64_t i = 0; i < count; ++i) out[i] = outputs[i] > 0.f ? gradients[i] : 0.f;
}

void relu6_gradient(const float* y, const float* dy, std::int64_t count, float* dx) {
  const float* __restrict outputs = y;
  const float* __restrict gradients = dy;
  float* __restrict out = dx;
  for (std::int64_t i = 0; i < count; ++i)
    out[i] = outputs[i] > 0.f && outputs[i] < 6.f ? gradients[i] : 0.f;
}

ElementwiseActivation::ElementwiseActivation(Activation kind, float alpha, float beta)
    : kind_(kind), alpha_(alpha), beta_(beta) {
  if (kind_ == Activation::kLeakyRelu && !(alpha_ >= 0.f)) {
    throw Error("leaky_relu: alpha must be >= 0, got " + std::to_string(alpha_));
  }
  if (kind_ == Activation::kHardSigmoid && !(alpha_ > 0.f && std::isfinite(beta_))) {
    throw Error("hard_sigmoid: alpha must be > 0 and beta finite, got alpha " +
                std::to_string(alpha_) + ", beta " + std::to_string(beta_));
  }
}

std::string_view ElementwiseActivation::type() const {
  switch (kind_) {
    case Activation::kRelu:
      return "relu";
    case Activation::kLeakyRelu:
      return "leaky_relu";
    case Activation::kSigmoid:
      return "sigmoid";
    case Activation::kTanh:
      return "tanh";
    case Activation::kRelu6:
      return "relu6";
    case Activation::kHardSigmoid:
      return "hard_sigmoid";
    case Activation::kHardSwish:
      return "hard_swish";
    case Activation::kSilu:
      return "silu";
    case Activation::kGelu:
      return "gelu";
  }
  return "relu";
}

template <Activation kKind>
std::unique_ptr<Layer> ElementwiseActivation::from_json(LayerOptions& o) {
  float alpha = kLeakyAlpha, beta = 0.f;
  if constexpr (kKind == Activation::kLeakyRelu) o.read("alpha", alpha);
  if constexpr (kKind == Activation::kHardSigmoid) {
    alpha = kHardSigmoidAlpha;
    beta = kHardSigmoidBeta;
    o.read("alpha", alpha);
    o.read("beta", beta);
  }
  return std::make_unique<ElementwiseActivation>(kKind, alpha, beta);
}
#define KILN_ACTIVATION_FROM_JSON(kind) \
  template std::unique_ptr<Layer> ElementwiseActivation::from_json<kind>(LayerOptions&);
KILN_ACTIVATION_FROM_JSON(Activation::kRelu)
KILN_ACTIVATION_FROM_JSON(Activation::kLeakyRelu)
KILN_ACTIVATION_FROM_JSON(Activation::kSigmoid)
KILN_ACTIVATION_FROM_JSON(Activation::kTanh)
KILN_ACTIVATION_FROM_JSON(Activation::kRelu6)
KILN_ACTIVATION_FROM_JSON(Activation::kHardSigmoid)
KILN_ACTIVATION_FROM_JSON(Activation::kHardSwish)
KILN_ACTIVATION_FROM_JSON(Activation::kSilu)
KILN_ACTIVATION_FROM_JSON(Activation::kGelu)
#undef KILN_ACTIVATION_FROM_JSON

Json ElementwiseActivation::config() const {
  if (kind_ == Activation::kLeakyRelu) return {{"alpha", alpha_}};
  if (kind_ == Activation::kHardSigmoid) return {{"alpha", alpha_}, {"beta", beta_}};
  return Json::object();
}

namespace {
float sigmoid(float x) { return 1.f / (1.f + std::exp(-x)); }
float normal_cdf(float x) { return 0.5f * (1.f + std::erf(x * 0.70710678118654752f)); }
float normal_pdf(float x) { return 0.39894228040143268f * std::exp(-0.5f * x * x); }
}  // namespace

void ElementwiseActivation::forward_range(const float* x, float* y, std::int64_t count) const {
  switch (kind_) {
    case Activation::kRelu:
      for (std::int64_t i = 0; i < count; ++i) y[i] = std::max(x[i], 0.f);
      break;
    case Activation::kLeakyRelu:
      for (std::int64_t i = 0; i < count; ++i) y[i] = x[i] > 0.f ? x[i] : alpha_ * x[i];
      break;
    case Activation::kSigmoid:
      for (std::int64_t i = 0; i < count; ++i) y[i] = sigmoid(x[i]);
      break;
    case Activation::kTanh:
      for (std::int64_t i = 0; i < count; ++i) y[i] = std::tanh(x[i]);
      break;
    case Activation::kRelu6:
      for (std::int64_t i = 0; i < count; ++i) y[i] = std::min(std::max(x[i], 0.f), 6.f);
      break;
    case Activation::kHardSigmoid:
      for (std::int64_t i = 0; i < count; ++i) y[i] = std::clamp(alpha_ * x[i] + beta_, 0.f, 1.f);
      break;
    case Activation::kHardSwish:
      for (std::int64_t i = 0; i < count; ++i)
        y[i] = x[i] * std::min(std::max(x[i] + 3.f, 0.f), 6.f) / 6.f;
      break;
    case Activation::kSilu:
      for (std::int64_t i = 0; i < count; ++i) y[i] = x[i] * sigmoid(x[i]);
      break;
    case Activation::kGelu:
      for (std::int64_t i = 0; i < count; ++i) y[i] = x[i] * normal_cdf(x[i]);
      break;
  }
}

void ElementwiseActivation::backward_range(const float* x, const float* y, const float* dy,
                                           float* dx, std::int64_t count) const {
  switch (kind_) {
    case Activation::kRelu:
      relu_gradient(y, dy, count, dx);
      break;
    case Activation::kLeakyRelu:
      for (std::int64_t i = 0; i < count; ++i) dx[i] = x[i] > 0.f ? dy[i] : alpha_ * dy[i];
      break;
    case Activation::kSigmoid:
      for (std::int64_t i = 0; i < count; ++i) dx[i] = dy[i] * y[i] * (1.f - y[i]);
      break;
    case Activation::kTanh:
      for (std::int64_t i = 0; i < count; ++i) dx[i] = dy[i] * (1.f - y[i] * y[i]);
      break;
    case Activation::kRelu6:
      relu6_gradient(y, dy, count, dx);
      break;
    case Activation::kHardSigmoid:
      for (std::int64_t i = 0; i < count; ++i) {
        const float z = alpha_ * x[i] + beta_;
        dx[i] = z > 0.f && z < 1.f ? alpha_ * dy[i] : 0.f;
      }
      break;
    case Activation::kHardSwish:
      for (std::int64_t i = 0; i < count; ++i) {
        const float slope = x[i] < -3.f ? 0.f : x[i] > 3.f ? 1.f : (2.f * x[i] + 3.f) / 6.f;
        dx[i] = dy[i] * slope;
      }
      break;
    case Activation::kSilu:
      for (std::int64_t i = 0; i < count; ++i) {
        const float s = sigmoid(x[i]);
        dx[i] = dy[i] * s * (1.f + x[i] * (1.f - s));
      }
      break;
    case Activation::kGelu:
      for (std::int64_t i = 0; i < count; ++i)
        dx[i] = dy[i] * (normal_cdf(x[i]) + x[i] * normal_pdf(x[i]));
      break;
  }
}

void ElementwiseActivation::forward(const Tensor& x, Tensor& y, const StepContext& /*ctx*/) {
  y.resize(x.shape());
  parallel_chunks(x.size(), kElementChunk, [&](std::int64_t i0, std::int64_t i1) {
    forward_range(x.data() + i0, y.data() + i0, i1 - i0);
  });
}

void ElementwiseActivation::backward(const Tensor& x, const Tensor& y, const Tensor& dy,
                                     Tensor& dx) {
  dx.resize(x.shape());
  parallel_chunks(x.size(), kElementChunk, [&](std::int64_t i0, std::int64_t i1) {
    backward_range(x.data() + i0, y.data() + i0, dy.data() + i0, dx.data() + i0, i1 - i0);
  });
}

// softmax: along C, for each (n, h, w).

void Softmax::forward(const Tensor& x, Tensor& y, const StepContext& /*ctx*/) {
  const Shape& s = x.shape();
  const std::int64_t area = s.h * s.w;
  y.resize(s);
  parallel_chunks(s.n, 16, [&](std::int64_t n0, std::int64_t n1) {
    for (std::int64_t n = n0; n < n1; ++n) {
      for (std::int64_t i = 0; i < area; ++i) {
        const std::int64_t base = n * s.c * area + i;
        float max_value = x[base];
        for (std::int64_t c = 1; c < s.c; ++c) max_value = std::max(max_value, x[base + c * area]);
        float sum = 0.f;
        for (std::int64_t c = 0; c < s.c; ++c) {
          y[base + c * area] = std::exp(x[base + c * area] - max_value);
          sum += y[base + c * area];
        }
        for (std::int64_t c = 0; c < s.c; ++c) y[base + c * area] /= sum;
      }
    }
  });
}

void Softmax::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) {
  const Shape& s = x.shape();
  const std::int64_t area = s.h * s.w;
  dx.resize(s);
  parallel_chunks(s.n, 16, [&](std::int64_t n0, std::int64_t n1) {
    for (std::int64_t n = n0; n < n1; ++n) {
      for (std::int64_t i = 0; i < area; ++i) {
        const std::int64_t base = n * s.c * area + i;
        float dot = 0.f;
        for (std::int64_t c = 0; c < s.c; ++c) dot += dy[base + c * area] * y[base + c * area];
        for (std::int64_t c = 0; c < s.c; ++c)
          dx[base + c * area] = y[base + c * area] * (dy[base + c * area] - dot);
      }
    }
  });
}

}  // namespace kiln::nn
