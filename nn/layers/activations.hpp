// Element-wise activation layers (and softmax, which works along the channel axis). They keep the
// input shape and have no parameters.
//   relu:       y = max(x, 0);            dy/dx = 1 where y > 0, else 0 (0 at the kink)
//   leaky_relu: y = x if x > 0 else α·x;  dy/dx = 1 or α            (option alpha: 0.3, Keras)
//   sigmoid:    y = 1 / (1 + e^−x);       dy/dx = y·(1 − y)
//   tanh:       y = tanh(x);              dy/dx = 1 − y²
//   relu6:      y = min(max(x, 0), 6);    dy/dx = 1 where 0 < y < 6 (MobileNet v2)
//   hard_sigmoid: y = clamp(α·x + β, 0, 1); dy/dx = α inside (options alpha 1/6, beta 0.5: PyTorch's
//               and Keras 3's relu6(x + 3) / 6; ONNX's defaults are 0.2 and 0.5)
//   hard_swish: y = x · relu6(x + 3) / 6;  dy/dx = 0 below −3, 1 above 3, (2x + 3) / 6 between
//               (MobileNet v3)
//   silu:       y = x · σ(x);             dy/dx = σ(x)·(1 + x·(1 − σ(x))) (swish; EfficientNet)
//   gelu:       y = x · Φ(x), Φ the normal CDF, exactly (with erf, as PyTorch's default);
//               dy/dx = Φ(x) + x·φ(x) (ConvNeXt, ViT)
//   softmax:    y[c] = e^x[c] / Σ_k e^x[k] over C, per (n, h, w); dx = y ⊙ (dy − Σ_c dy·y)
#pragma once

#include "nn/layer.hpp"

namespace kiln::nn {

enum class Activation {
  kRelu,
  kLeakyRelu,
  kSigmoid,
  kTanh,
  kRelu6,
  kHardSigmoid,
  kHardSwish,
  kSilu,
  kGelu
};

// ReLU's backward on raw arrays: dx[i] = dy[i] where y[i] > 0, else 0, for i < count (dx may not
// overlap y or dy). Shared by the relu layer and by the dense and conv2d layers that absorb one.
void relu_gradient(const float* y, const float* dy, std::int64_t count, float* dx);
// ReLU6's: dx[i] = dy[i] where 0 < y[i] < 6, else 0 (the relu6 layer's and conv2d's absorbed one).
void relu6_gradient(const float* y, const float* dy, std::int64_t count, float* dx);

class ElementwiseActivation final : public Layer {
 public:
  // alpha: leaky_relu's slope, or hard_sigmoid's; beta: hard_sigmoid's offset.
  explicit ElementwiseActivation(Activation kind, float alpha = kLeakyAlpha, float beta = 0.f);
  static constexpr float kLeakyAlpha = 0.3f;  // leaky_relu's default, as Keras'
  static constexpr float kHardSigmoidAlpha = 1.f / 6.f, kHardSigmoidBeta = 0.5f;
  template <Activation kKind>
  static std::unique_ptr<Layer> from_json(LayerOptions& options);

  std::string_view type() const override;
  Shape build(const Shape& input) override { return input.with_n(1); }
  void forward(const Tensor& x, Tensor& y, const StepContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) override;
  Json config() const override;

 private:
  void forward_range(const float* x, float* y, std::int64_t count) const;
  void backward_range(const float* x, const float* y, const float* dy, float* dx,
                      std::int64_t count) const;

  Activation kind_;
  float alpha_, beta_;
};

class Softmax final : public Layer {
 public:
  static constexpr std::string_view kType = "softmax";
  std::string_view type() const override { return kType; }
  Shape build(const Shape& input) override { return input.with_n(1); }
  void forward(const Tensor& x, Tensor& y, const StepContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) override;
  Json config() const override { return Json::object(); }
  static std::unique_ptr<Layer> from_json(LayerOptions& /*options*/) {
    return std::make_unique<Softmax>();
  }
};

}  // namespace kiln::nn
