#include "nn/loss.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "nn/error.hpp"

namespace kiln::nn {
namespace {

// Checks the labels against the output and prepares the gradient buffer; returns (N, K).
std::pair<std::int64_t, std::int64_t> prepare(const Tensor& output,
                                              std::span<const std::int32_t> labels, Tensor* doutput,
                                              std::string_view loss) {
  const std::int64_t n = output.shape().n, k = output.shape().per_sample();
  if (static_cast<std::int64_t>(labels.size()) != n) {
    throw Error(std::string(loss) + ": " + std::to_string(labels.size()) + " labels for " +
                std::to_string(n) + " rows");
  }
  for (const std::int32_t label : labels) {
    if (label < 0 || label >= k) {
      throw Error("label " + std::to_string(label) + " is outside [0, " + std::to_string(k) +
                  "): the model has " + std::to_string(k) + " outputs; check the dataset's labels");
    }
  }
  if (doutput) doutput->resize({n, k, 1, 1});
  return {n, k};
}

// Sets result.correct (top-1) and result.correct_top5 from the rank of each row's label.
void count_hits(const Tensor& output, std::span<const std::int32_t> labels, std::int64_t k,
                LossResult& result) {
  for (std::size_t r = 0; r < labels.size(); ++r) {
    const float* z = output.data() + static_cast<std::int64_t>(r) * k;
    const std::int32_t label = labels[r];
    const float mine = z[label];
    std::int64_t above = 0;
    for (std::int32_t c = 0; c < k; ++c) above += z[c] > mine || (z[c] == mine && c < label);
    result.correct += above == 0;
    result.correct_top5 += above < 5;
  }
}

}  // namespace

// softmax_cross_entropy

LossResult SoftmaxCrossEntropy::compute(const Tensor& logits, std::span<const std::int32_t> labels,
                                        Tensor* dlogits) const {
  return compute(logits, labels, dlogits, nullptr);
}

LossResult SoftmaxCrossEntropy::compute(const Tensor& logits, std::span<const std::int32_t> labels,
                                        Tensor* dlogits, Tensor* probabilities) {
  const auto [n, k] = prepare(logits, labels, dlogits, "softmax cross-entropy");
  if (probabilities) probabilities->resize({n, k, 1, 1});
  LossResult result;
  const double inv_n = 1.0 / static_cast<double>(std::max<std::int64_t>(n, 1));
  // Serial over rows: N·K is tiny next to the layers, and a fixed order keeps the sum reproducible.
  for (std::int64_t r = 0; r < n; ++r) {
    const std::int32_t label = labels[static_cast<std::size_t>(r)];
    const float* z = logits.data() + r * k;
    const float z_max = *std::max_element(z, z + k);
    double sum = 0.0;
    for (std::int64_t j = 0; j < k; ++j) sum += std::exp(static_cast<double>(z[j] - z_max));
    const double log_sum = std::log(sum);
    result.loss += (log_sum - static_cast<double>(z[label] - z_max)) * inv_n;
    for (std::int64_t j = 0; j < k; ++j) {
      const double p = std::exp(static_cast<double>(z[j] - z_max) - log_sum);
      if (probabilities) (*probabilities)[r * k + j] = static_cast<float>(p);
      if (dlogits)
        (*dlogits)[r * k + j] = static_cast<float>((p - (j == label ? 1.0 : 0.0)) * inv_n);
    }
  }
  count_hits(logits, labels, k, result);
  return result;
}

// sigmoid_binary_cross_entropy

LossResult SigmoidBinaryCrossEntropy::compute(const Tensor& logits,
                                              std::span<const std::int32_t> labels,
                                              Tensor* dlogits) const {
  const auto [n, k] = prepare(logits, labels, dlogits, name());
  LossResult result;
  const double scale = 1.0 / static_cast<double>(std::max<std::int64_t>(n * k, 1));
  for (std::int64_t r = 0; r < n; ++r) {
    for (std::int64_t j = 0; j < k; ++j) {
      const double z = logits[r * k + j];
      const double t = j == labels[static_cast<std::size_t>(r)] ? 1.0 : 0.0;
      result.loss += (std::max(z, 0.0) - z * t + std::log1p(std::exp(-std::abs(z)))) * scale;
      if (dlogits)
        (*dlogits)[r * k + j] = static_cast<float>((1.0 / (1.0 + std::exp(-z)) - t) * scale);
    }
  }
  count_hits(logits, labels, k, result);
  return result;
}

// mean_squared_error

LossResult MeanSquaredError::compute(const Tensor& output, std::span<const std::int32_t> labels,
                                     Tensor* doutput) const {
  const auto [n, k] = prepare(output, labels, doutput, name());
  LossResult result;
  const double scale = 1.0 / static_cast<double>(std::max<std::int64_t>(n * k, 1));
  for (std::int64_t r = 0; r < n; ++r) {
    for (std::int64_t j = 0; j < k; ++j) {
      const double diff =
          output[r * k + j] - (j == labels[static_cast<std::size_t>(r)] ? 1.0 : 0.0);
      result.loss += diff * diff * scale;
      if (doutput) (*doutput)[r * k + j] = static_cast<float>(2.0 * diff * scale);
    }
  }
  count_hits(output, labels, k, result);
  return result;
}

std::unique_ptr<Loss> make_loss(const std::string& name) {
  if (name == "softmax_cross_entropy") return std::make_unique<SoftmaxCrossEntropy>();
  if (name == "sigmoid_binary_cross_entropy") return std::make_unique<SigmoidBinaryCrossEntropy>();
  if (name == "mean_squared_error") return std::make_unique<MeanSquaredError>();
  std::string known;
  for (const auto& n : loss_names()) known += (known.empty() ? "" : ", ") + n;
  throw Error("unknown loss '" + name + "'; known losses: " + known);
}

std::vector<std::string> loss_names() {
  return {"softmax_cross_entropy", "sigmoid_binary_cross_entropy", "mean_squared_error"};
}

}  // namespace kiln::nn
