#include "nn/loss.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "nn/error.hpp"

namespace kiln::nn {

SoftmaxCrossEntropy::Result SoftmaxCrossEntropy::compute(const Tensor& logits,
                                                         std::span<const std::int32_t> labels,
                                                         Tensor* dlogits, Tensor* probabilities) {
  const std::int64_t n = logits.shape().n;
  const std::int64_t k = logits.shape().per_sample();
  if (static_cast<std::int64_t>(labels.size()) != n) {
    throw Error("softmax cross-entropy: " + std::to_string(labels.size()) + " labels for " +
                std::to_string(n) + " rows");
  }
  if (dlogits) dlogits->resize({n, k, 1, 1});
  if (probabilities) probabilities->resize({n, k, 1, 1});

  Result result;
  const double inv_n = 1.0 / static_cast<double>(std::max<std::int64_t>(n, 1));
  // Serial over rows: N·K is tiny next to the layers, and a fixed order keeps the sum reproducible.
  for (std::int64_t r = 0; r < n; ++r) {
    const std::int32_t label = labels[static_cast<std::size_t>(r)];
    if (label < 0 || label >= k) {
      throw Error("label " + std::to_string(label) + " is outside [0, " + std::to_string(k) +
                  "): the model has " + std::to_string(k) + " outputs; check the dataset's labels");
    }
    const float* z = logits.data() + r * k;
    const float* z_max = std::max_element(z, z + k);
    double sum = 0.0;
    for (std::int64_t j = 0; j < k; ++j) sum += std::exp(static_cast<double>(z[j] - *z_max));
    const double log_sum = std::log(sum);
    result.loss += (log_sum - static_cast<double>(z[label] - *z_max)) * inv_n;
    if (z_max - z == label) ++result.correct;
    for (std::int64_t j = 0; j < k; ++j) {
      const double p = std::exp(static_cast<double>(z[j] - *z_max) - log_sum);
      if (probabilities) (*probabilities)[r * k + j] = static_cast<float>(p);
      if (dlogits) {
        (*dlogits)[r * k + j] = static_cast<float>((p - (j == label ? 1.0 : 0.0)) * inv_n);
      }
    }
  }
  return result;
}

}  // namespace kiln::nn
