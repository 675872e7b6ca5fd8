// upsample: each plane enlarged by whole factors (Keras' UpSampling2D, PyTorch's
// F.interpolate(scale_factor=s), ONNX's Resize). x (N, C, H, W) → y (N, C, H·sh, W·sw).
//   nearest:  y[oy, ox] = x[⌊oy / sh⌋, ⌊ox / sw⌋]
//   bilinear: half-pixel centres (PyTorch's align_corners=False, Keras', ONNX's half_pixel): the
//             source position s = (o + ½) / scale − ½, clamped at 0; the two inputs around it
//             (the last one repeated at the edge) weighed by their distance
// The backward sends each output's gradient to the inputs it read, with the same weights.
// Options: size (2: an integer or [h, w], each ≥ 1), interpolation ("nearest" | "bilinear").
#pragma once

#include "nn/layer.hpp"
#include "nn/layers/window.hpp"

namespace kiln::nn {

enum class Interpolation { kNearest, kBilinear };

class Upsample final : public Layer {
 public:
  Upsample(Size2 factors, Interpolation interpolation);
  static constexpr std::string_view kType = "upsample";

  std::string_view type() const override { return kType; }
  Shape build(const Shape& input) override;
  void forward(const Tensor& x, Tensor& y, const StepContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) override;
  Json config() const override;
  static std::unique_ptr<Layer> from_json(LayerOptions& options);

 private:
  Size2 factors_;
  Interpolation interpolation_;
};

}  // namespace kiln::nn
