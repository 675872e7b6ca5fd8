// LayerNorm over channels (Ba et al. 2016; ConvNeXt's LayerNorm2d, Liu et al. 2022): at every
// pixel of every sample, independently of the batch,
//   μ, σ² = mean and (biased) variance of x over C;  x̂ = (x − μ) / sqrt(σ² + ε);  y = γ·x̂ + β
//   dx = (dx̂ − mean_C(dx̂) − x̂·mean_C(dx̂·x̂)) / sqrt(σ² + ε), dx̂ = dy·γ;
//   dγ = Σ dy·x̂, dβ = Σ dy over samples and pixels.
// Train and eval compute the same. Option epsilon (1e-5, PyTorch's; ConvNeXt uses 1e-6).
// Parameter gradients are summed per chunk of samples and the chunks in order: the same for any
// thread count.
#pragma once

#include <vector>

#include "nn/layer.hpp"

namespace kiln::nn {

class LayerNorm final : public Layer {
 public:
  explicit LayerNorm(float epsilon);
  static constexpr std::string_view kType = "layer_norm";

  std::string_view type() const override { return kType; }
  Shape build(const Shape& input) override;
  void initialize(Rng& rng) override;
  void forward(const Tensor& x, Tensor& y, const StepContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) override;
  std::vector<Parameter*> parameters() override { return {&gamma_, &beta_}; }
  Json config() const override { return {{"epsilon", epsilon_}}; }
  static std::unique_ptr<Layer> from_json(LayerOptions& options);

 private:
  float epsilon_;
  Parameter gamma_, beta_;  // (C)
};

}  // namespace kiln::nn
