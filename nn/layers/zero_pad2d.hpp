// zero_pad2d: zeros around each plane (Keras' ZeroPadding2D; an ONNX Pad of constant 0 on H and
// W). x (N, C, H, W) → y (N, C, top + H + bottom, left + W + right); dx = dy's inner window.
// A pool after it counts the zeros as pixels (PyTorch's count_include_pad), which a pool's own
// padding does not. Option padding: pixels per side as an integer, [h, w] or [top, left, bottom,
// right] (nn/layers/window.hpp).
#pragma once

#include "nn/layer.hpp"
#include "nn/layers/window.hpp"

namespace kiln::nn {

class ZeroPad2D final : public Layer {
 public:
  explicit ZeroPad2D(Padding pixels);
  static constexpr std::string_view kType = "zero_pad2d";

  std::string_view type() const override { return kType; }
  Shape build(const Shape& input) override;
  void forward(const Tensor& x, Tensor& y, const StepContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) override;
  Json config() const override { return {{"padding", padding_json(pad_)}}; }
  static std::unique_ptr<Layer> from_json(LayerOptions& options);

 private:
  Padding pad_;
};

}  // namespace kiln::nn
