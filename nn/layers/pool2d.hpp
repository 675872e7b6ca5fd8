// Pooling over (H, W) windows, per channel. x (N, C, H, W) → y (N, C, OH, OW).
//   max_pool2d:  y = max over the window (padding never wins); the gradient goes to the arg-max
//                (the first one in row-major order on ties).
//   avg_pool2d:  y = mean over the window's in-image elements (padding excluded, as Keras does).
//   global_avg_pool2d: y (N, C, 1, 1) = mean over all of (H, W).
// Options: pool_size (int or [h, w], default 2), strides (default = pool_size), padding.
#pragma once

#include <vector>

#include "nn/layer.hpp"
#include "nn/layers/window.hpp"

namespace kiln::nn {

struct Pool2DOptions {
  Size2 pool{2, 2};
  Size2 strides{2, 2};
  Padding padding = Padding::kValid;
};

enum class PoolKind { kMax, kAverage };

class Pool2D final : public Layer {
 public:
  Pool2D(PoolKind kind, Pool2DOptions options);
  static constexpr std::string_view kMaxType = "max_pool2d";
  static constexpr std::string_view kAverageType = "avg_pool2d";

  std::string_view type() const override {
    return kind_ == PoolKind::kMax ? kMaxType : kAverageType;
  }
  Shape build(const Shape& input) override;
  void forward(const Tensor& x, Tensor& y, const StepContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) override;
  Json config() const override;
  // The strides default to the pool size.
  static std::unique_ptr<Layer> max_from_json(LayerOptions& options);
  static std::unique_ptr<Layer> average_from_json(LayerOptions& options);

 private:
  PoolKind kind_;
  Pool2DOptions options_;
  Shape in_;
  Window1d rows_, cols_;
  std::vector<std::int32_t> argmax_;  // max: per output element, the input offset in its plane
};

class GlobalAvgPool2D final : public Layer {
 public:
  static constexpr std::string_view kType = "global_avg_pool2d";
  static std::unique_ptr<Layer> from_json(LayerOptions& /*options*/) {
    return std::make_unique<GlobalAvgPool2D>();
  }
  std::string_view type() const override { return kType; }
  Shape build(const Shape& input) override { return {1, input.c, 1, 1}; }
  void forward(const Tensor& x, Tensor& y, const StepContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) override;
  Json config() const override { return Json::object(); }
};

// Flatten: (N, C, H, W) → (N, C·H·W, 1, 1), the same numbers in the same order.
class Flatten final : public Layer {
 public:
  static constexpr std::string_view kType = "flatten";
  static std::unique_ptr<Layer> from_json(LayerOptions& /*options*/) {
    return std::make_unique<Flatten>();
  }
  std::string_view type() const override { return kType; }
  Shape build(const Shape& input) override { return {1, input.per_sample(), 1, 1}; }
  void forward(const Tensor& x, Tensor& y, const StepContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) override;
  Json config() const override { return Json::object(); }
};

}  // namespace kiln::nn
