// Layers that join branches of a graph model, and the identity a branch may start from.
//   add:      y = x₁ + x₂ + …, inputs of one shape (a residual sum);  dx_k = dy. A ReLU right
//             after it is absorbed (FusesRelu): max(0, ·) in the same pass, dx_k = dy where y > 0,
//             bit for bit the two layers run apart
//   concat:   y = the inputs stacked along channels, in the order listed (same H and W);
//             dx_k = dy's channels of input k
//   multiply: y = x₁ ⊙ x₂ ⊙ …, each input either the output's shape or (C, 1, 1): one value per
//             channel, broadcast over H × W (squeeze-and-excitation's gate, Hu et al. 2018; and
//             x · σ(x) as graphs spell SiLU). dx_k = dy ⊙ Π_{j≠k} x_j, summed over H × W for a
//             broadcast input
//   identity: y = x; dx = dy (a named point to branch from)
// No options, no parameters.
#pragma once

#include "nn/layer.hpp"

namespace kiln::nn {

class Add final : public JoinLayer, public FusesRelu {
 public:
  static constexpr std::string_view kType = "add";
  std::string_view type() const override { return kType; }
  Shape build_join(std::span<const Shape> inputs) override;
  void forward_join(Inputs xs, Tensor& y) override;
  void backward_join(std::size_t k, Inputs xs, const Tensor& y, const Tensor& dy,
                     Tensor& dx) override;
  void absorb_relu() override { relu_ = true; }
  void backward_parameters(const Tensor& /*x*/, const Tensor& /*y*/,
                           const Tensor& /*dy*/) override {}  // it has none
  Json config() const override { return Json::object(); }
  static std::unique_ptr<Layer> from_json(LayerOptions& /*options*/) {
    return std::make_unique<Add>();
  }

 private:
  bool relu_ = false;  // a following ReLU absorbed (FusesRelu)
};

class Concat final : public JoinLayer {
 public:
  static constexpr std::string_view kType = "concat";
  std::string_view type() const override { return kType; }
  Shape build_join(std::span<const Shape> inputs) override;
  void forward_join(Inputs xs, Tensor& y) override;
  void backward_join(std::size_t k, Inputs xs, const Tensor& y, const Tensor& dy,
                     Tensor& dx) override;
  Json config() const override { return Json::object(); }
  static std::unique_ptr<Layer> from_json(LayerOptions& /*options*/) {
    return std::make_unique<Concat>();
  }
};

class Multiply final : public JoinLayer {
 public:
  static constexpr std::string_view kType = "multiply";
  std::string_view type() const override { return kType; }
  Shape build_join(std::span<const Shape> inputs) override;
  void forward_join(Inputs xs, Tensor& y) override;
  void backward_join(std::size_t k, Inputs xs, const Tensor& y, const Tensor& dy,
                     Tensor& dx) override;
  Json config() const override { return Json::object(); }
  static std::unique_ptr<Layer> from_json(LayerOptions& /*options*/) {
    return std::make_unique<Multiply>();
  }
};

class Identity final : public Layer {
 public:
  static constexpr std::string_view kType = "identity";
  std::string_view type() const override { return kType; }
  Shape build(const Shape& input) override { return input.with_n(1); }
  void forward(const Tensor& x, Tensor& y, const StepContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) override;
  Json config() const override { return Json::object(); }
  static std::unique_ptr<Layer> from_json(LayerOptions& /*options*/) {
    return std::make_unique<Identity>();
  }
};

}  // namespace kiln::nn
