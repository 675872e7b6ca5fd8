#include "nn/layer.hpp"

#include <algorithm>

namespace kiln::nn {

bool absorb_relu(Layer& layer) {
  auto* fuses = dynamic_cast<FusesRelu*>(&layer);
  if (fuses == nullptr) return false;
  fuses->absorb_relu();
  return true;
}

bool absorb_relu6(Layer& layer) {
  auto* fuses = dynamic_cast<FusesRelu*>(&layer);
  return fuses != nullptr && fuses->absorb_relu6();
}

void backward_parameters(Layer& layer, const Tensor& x, const Tensor& y, const Tensor& dy) {
  if (auto* fuses = dynamic_cast<FusesRelu*>(&layer)) {
    fuses->backward_parameters(x, y, dy);
    return;
  }
  Tensor unused;
  layer.backward(x, y, dy, unused);
}

std::vector<double> batch_statistics(const Layer& layer) {
  const auto* follows = dynamic_cast<const FollowsBatchStatistics*>(&layer);
  return follows != nullptr ? follows->batch_statistics() : std::vector<double>{};
}

std::size_t batch_statistics_size(const Layer& layer) {
  const auto* follows = dynamic_cast<const FollowsBatchStatistics*>(&layer);
  return follows != nullptr ? follows->batch_statistics_size() : 0;
}

void fold_batch_statistics(Layer& layer, std::span<const double> statistics) {
  if (auto* follows = dynamic_cast<FollowsBatchStatistics*>(&layer)) {
    follows->fold_batch_statistics(statistics);
  }
}

std::int64_t macs(const Layer& layer) {
  const auto* counts = dynamic_cast<const CountsMacs*>(&layer);
  return counts != nullptr ? counts->macs() : 0;
}

void ChannelMap::apply(std::int64_t c, const float* in, float* out, std::int64_t count) const {
  const float g = gamma[c], m = mean[c], s = inv_std[c], b = beta[c];
  for (std::int64_t i = 0; i < count; ++i) out[i] = g * ((in[i] - m) * s) + b;
  if (relu) {  // std::max(v, 0): a NaN stays NaN, as in the ReLU layer
    for (std::int64_t i = 0; i < count; ++i) out[i] = std::max(out[i], 0.f);
  }
}

}  // namespace kiln::nn
