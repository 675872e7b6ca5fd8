// BatchNorm (Ioffe & Szegedy 2015), per channel over (N, H, W): after dense layers (N, C, 1, 1)
// and after convolutions (N, C, H, W) alike.
//   train: μ, σ² of the batch (biased), x̂ = (x − μ) / sqrt(σ² + ε), y = γ·x̂ + β;
//          running_mean ← m·running_mean + (1 − m)·μ, running_var ← m·running_var + (1 −
//          m)·σ²·M/(M−1)
//   eval:  the same with the running statistics: no dependence on the batch.
// Options: momentum m in [0, 1), epsilon > 0.
// A ReLU right after it is absorbed (FusesRelu): y = max(0, γ·x̂ + β) in the same pass, and the
// backward masks dy by y > 0 as it sums it — the pair is bit for bit the two layers run apart,
// with one activation tensor and two passes over it fewer each way.
// In evaluation, where only the model's output is read, a convolution right before it applies
// its map instead (eval_map(), AppliesChannelMap), the same floats, one pass fewer.
// γ, β are trained; running_mean and running_var are buffers, saved in model files.
#pragma once

#include <vector>

#include "nn/layer.hpp"

namespace kiln::nn {

class BatchNorm final : public Layer,
                        public FollowsBatchStatistics,
                        public FusesRelu,
                        public EvaluatesAsChannelMap {
 public:
  BatchNorm(float momentum, float epsilon);
  static constexpr std::string_view kType = "batch_norm";

  std::string_view type() const override { return kType; }
  Shape build(const Shape& input) override;
  void initialize(Rng& rng) override;
  void forward(const Tensor& x, Tensor& y, const StepContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) override;
  std::vector<Parameter*> parameters() override { return {&gamma_, &beta_}; }
  std::vector<Buffer*> buffers() override { return {&running_mean_, &running_var_}; }
  // Per channel: the batch mean, then the unbiased batch variance.
  std::vector<double> batch_statistics() const override;
  std::size_t batch_statistics_size() const override {
    return 2 * static_cast<std::size_t>(running_mean_.value.size());
  }
  void fold_batch_statistics(std::span<const double> statistics) override;
  void absorb_relu() override { relu_ = true; }
  // The evaluation-mode forward as a map (running statistics), for the layer before to apply
  // (AppliesChannelMap); valid until the next forward() or eval_map(). Counts as an eval forward.
  ChannelMap eval_map() override;
  void backward_parameters(const Tensor& x, const Tensor& y, const Tensor& dy) override;
  Json config() const override { return {{"momentum", momentum_}, {"epsilon", epsilon_}}; }
  // Keras' defaults: momentum 0.99, epsilon 1e-3.
  static std::unique_ptr<Layer> from_json(LayerOptions& options);

 private:
  void fold_channel(std::int64_t c, double mean, double unbiased);
  float inverse_std(double variance) const;  // 1 / sqrt(σ² + ε), rounded once to float
  // The parameter gradients, and with `dx` the input gradient, from dy of the output.
  void backward_into(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx);

  float momentum_, epsilon_;
  Parameter gamma_, beta_;             // (C)
  Buffer running_mean_, running_var_;  // (C)
  // (C) of the last forward: x̂ = (x − mean) · inv_std is recomputed from x in backward rather
  // than kept, an activation-sized buffer and one pass over it fewer.
  std::vector<float> mean_, inv_std_;
  std::vector<double> statistics_;  // (2C) of the last training forward
  bool last_was_train_ = false;
  bool relu_ = false;  // a following ReLU absorbed (FusesRelu)
};

}  // namespace kiln::nn
