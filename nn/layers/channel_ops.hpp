// Layers that rearrange channels (ShuffleNet v2's, Ma et al. 2018).
//   channel_shuffle: the C channels viewed as (groups, C / groups), transposed: output channel
//                    j·groups + g is input channel g·(C / groups) + j; the gradient goes back by
//                    the inverse permutation. Option groups (2); C divisible by it.
//   channel_slice:   channels [begin, end) of the input; dx is dy there and 0 elsewhere. Options
//                    begin (0), end (required; clamped to C, as ONNX's Slice).
// Neither has parameters.
#pragma once

#include "nn/layer.hpp"

namespace kiln::nn {

class ChannelShuffle final : public Layer {
 public:
  explicit ChannelShuffle(std::int64_t groups);
  static constexpr std::string_view kType = "channel_shuffle";

  std::string_view type() const override { return kType; }
  Shape build(const Shape& input) override;
  void forward(const Tensor& x, Tensor& y, const StepContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) override;
  Json config() const override { return {{"groups", groups_}}; }
  static std::unique_ptr<Layer> from_json(LayerOptions& options);

 private:
  // The input channel that output channel `out` reads.
  std::int64_t source_channel(std::int64_t out, std::int64_t channels) const {
    return (out % groups_) * (channels / groups_) + out / groups_;
  }
  std::int64_t groups_;
};

class ChannelSlice final : public Layer {
 public:
  ChannelSlice(std::int64_t begin, std::int64_t end);
  static constexpr std::string_view kType = "channel_slice";

  std::string_view type() const override { return kType; }
  Shape build(const Shape& input) override;
  void forward(const Tensor& x, Tensor& y, const StepContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) override;
  Json config() const override { return {{"begin", begin_}, {"end", end_}}; }
  static std::unique_ptr<Layer> from_json(LayerOptions& options);

 private:
  std::int64_t begin_, end_;
};

}  // namespace kiln::nn
