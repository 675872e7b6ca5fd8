// Dense (fully connected): y = x · Wᵀ + b.
// x is read as (N, K) with K = C·H·W of its per-sample shape (so no Flatten is needed before it);
// weight is (units, K), bias is (units), y is (N, units, 1, 1).
// Options: units (> 0), init (nn/init.hpp, default he_normal), bias_init (constant, default 0),
// use_bias (default true).
// Products run on nn/kernels/gemm.hpp in fixed chunks of features (nn/parallel.hpp), so results do not
// depend on the thread count.
#pragma once

#include "nn/layer.hpp"
#include "nn/layers/weights.hpp"

namespace kiln::nn {

struct DenseOptions {
  std::int64_t units = 0;
  WeightOptions weights;  // init, use_bias, bias_init, regularizers (nn/layers/weights.hpp)
};

class Dense final : public Layer, public FusesRelu, public CountsMacs {
 public:
  explicit Dense(DenseOptions options);
  static constexpr std::string_view kType = "dense";

  std::string_view type() const override { return kType; }
  Shape build(const Shape& input) override;
  void initialize(Rng& rng) override;
  void forward(const Tensor& x, Tensor& y, const StepContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) override;
  void backward_parameters(const Tensor& x, const Tensor& y, const Tensor& dy) override;
  std::vector<Parameter*> parameters() override;
  void absorb_relu() override { relu_ = true; }
  Json config() const override;
  static std::unique_ptr<Layer> from_json(LayerOptions& options);
  std::int64_t macs() const override { return in_features_ * options_.units; }

  const DenseOptions& options() const { return options_; }

 private:
  DenseOptions options_;
  std::int64_t in_features_ = 0;
  Parameter weight_;   // (units, in_features)
  Parameter bias_;     // (units)
  bool relu_ = false;  // a following ReLU absorbed (FusesRelu)
  Tensor rectified_;   // with relu_: dy where y > 0, for backward

  // dy itself, or with relu_ the absorbed ReLU's backward of it (into rectified_).
  const Tensor& pre_activation_gradient(const Tensor& y, const Tensor& dy);
  // One chunk of the products behind backward: dx's input features [k0, k1), or the gradients
  // of units [o0, o1) (at most kFeatureChunk of them).
  void compute_input_gradient(const Tensor& g, std::int64_t k0, std::int64_t k1, Tensor& dx);
  void add_parameter_gradients(const Tensor& x, const Tensor& g, std::int64_t o0, std::int64_t o1);
};

}  // namespace kiln::nn
