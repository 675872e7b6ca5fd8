// Element-wise activation layers. They keep the input shape and have no parameters.
//   relu: y = max(x, 0);  dy/dx = 1 where y > 0, else 0 (the subgradient at 0 is taken as 0).
#pragma once

#include "nn/layer.hpp"

namespace kiln::nn {

class Relu final : public Layer {
 public:
  static constexpr std::string_view kType = "relu";

  std::string_view type() const override { return kType; }
  Shape build(const Shape& input) override { return input; }
  void forward(const Tensor& x, Tensor& y, const StepContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) override;
  Json config() const override { return Json::object(); }
};

}  // namespace kiln::nn
