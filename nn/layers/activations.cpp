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

ElementwiseActivation::ElementwiseActivation(Activation kind, float alpha)
    : kind_(kind), alpha_(alpha) {
  if (kind_ == Activation::kLeakyRelu && !(alpha_ >= 0.f)) {
    throw Error("leaky_relu: alpha must be >= 0, got " + std::to_string(alpha_));
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
  }
  return "relu";
}

template <Activation kKind>
std::unique_ptr<Layer> ElementwiseActivation::from_json(LayerOptions& o) {
  float alpha = kLeakyAlpha;
  if constexpr (kKind == Activation::kLeakyRelu) o.read("alpha", alpha);
  return std::make_unique<ElementwiseActivation>(kKind, alpha);
}
template std::unique_ptr<Layer> ElementwiseActivation::from_json<Activation::kRelu>(LayerOptions&);
template std::unique_ptr<Layer> ElementwiseActivation::from_json<Activation::kLeakyRelu>(
    LayerOptions&);
template std::unique_ptr<Layer> ElementwiseActivation::from_json<Activation::kSigmoid>(
    LayerOptions&);
template std::unique_ptr<Layer> ElementwiseActivation::from_json<Activation::kTanh>(LayerOptions&);

Json ElementwiseActivation::config() const {
  if (kind_ == Activation::kLeakyRelu) return {{"alpha", alpha_}};
  return Json::object();
}

void ElementwiseActivation::forward(const Tensor& x, Tensor& y, const StepContext& /*ctx*/) {
  y.resize(x.shape());
  parallel_chunks(x.size(), kElementChunk, [&](std::int64_t i0, std::int64_t i1) {
    switch (kind_) {
      case Activation::kRelu:
        for (std::int64_t i = i0; i < i1; ++i) y[i] = std::max(x[i], 0.f);
        break;
      case Activation::kLeakyRelu:
        for (std::int64_t i = i0; i < i1; ++i) y[i] = x[i] > 0.f ? x[i] : alpha_ * x[i];
        break;
      case Activation::kSigmoid:
        for (std::int64_t i = i0; i < i1; ++i) y[i] = 1.f / (1.f + std::exp(-x[i]));
        break;
      case Activation::kTanh:
        for (std::int64_t i = i0; i < i1; ++i) y[i] = std::tanh(x[i]);
        break;
    }
  });
}

void ElementwiseActivation::backward(const Tensor& x, const Tensor& y, const Tensor& dy,
                                     Tensor& dx) {
  dx.resize(x.shape());
  parallel_chunks(x.size(), kElementChunk, [&](std::int64_t i0, std::int64_t i1) {
    switch (kind_) {
      case Activation::kRelu:
        relu_gradient(y.data() + i0, dy.data() + i0, i1 - i0, dx.data() + i0);
        break;
      case Activation::kLeakyRelu:
        for (std::int64_t i = i0; i < i1; ++i) dx[i] = x[i] > 0.f ? dy[i] : alpha_ * dy[i];
        break;
      case Activation::kSigmoid:
        for (std::int64_t i = i0; i < i1; ++i) dx[i] = dy[i] * y[i] * (1.f - y[i]);
        break;
      case Activation::kTanh:
        for (std::int64_t i = i0; i < i1; ++i) dx[i] = dy[i] * (1.f - y[i] * y[i]);
        break;
    }
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
