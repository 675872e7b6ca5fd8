// Dropout (inverted, Srivastava et al. 2014): in training, each element is kept with probability
// 1 − rate and scaled by 1 / (1 − rate), so evaluation is the identity.
// The mask of batch row i comes from Rng{run_seed, epoch, rows[i], kSlotLayerBase + layer}: it
// depends on the sample and the layer, not on the batch size, the row or the thread.
// Options: rate in [0, 1).
#pragma once

#include <vector>

#include "nn/layer.hpp"

namespace kiln::nn {

class Dropout final : public Layer {
 public:
  explicit Dropout(float rate);
  static constexpr std::string_view kType = "dropout";

  std::string_view type() const override { return kType; }
  Shape build(const Shape& input) override { return input.with_n(1); }
  void forward(const Tensor& x, Tensor& y, const StepContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) override;
  Json config() const override { return {{"rate", rate_}}; }
  static std::unique_ptr<Layer> from_json(LayerOptions& options);

 private:
  float rate_;
  std::vector<float> mask_;  // per element of the last training batch: 0 or 1 / (1 − rate)
  bool last_was_train_ = false;
};

// Stochastic depth (Huang et al. 2016; torchvision's StochasticDepth, mode "row", timm's
// drop_path): in training each sample's whole input is dropped with probability `rate`, the kept
// ones scaled by 1 / (1 − rate); in evaluation it is the identity. Placed on a residual branch
// before the add, it drops that block for the sample. Each sample's draw is keyed like dropout's:
// (run seed, epoch, sample, layer), whatever the thread or rank count.
class StochasticDepth final : public Layer {
 public:
  explicit StochasticDepth(float rate);
  static constexpr std::string_view kType = "stochastic_depth";

  std::string_view type() const override { return kType; }
  Shape build(const Shape& input) override { return input.with_n(1); }
  void forward(const Tensor& x, Tensor& y, const StepContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) override;
  Json config() const override { return {{"rate", rate_}}; }
  static std::unique_ptr<Layer> from_json(LayerOptions& options);

 private:
  float rate_;
  std::vector<float> scale_;  // per sample of the last training batch: 0 or 1 / (1 − rate)
  bool last_was_train_ = false;
};

}  // namespace kiln::nn
