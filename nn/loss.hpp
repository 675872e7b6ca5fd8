// Losses. A loss turns the model's output (N, K) and the labels into one number (the batch mean)
// and its gradient with respect to the output, in one fused pass (as llm.c does). Labels are class
// indices in [0, K); anything else throws kiln::Error naming the label.
// clang-format off
//   softmax_cross_entropy:        p = softmax(z) (computed as exp(z − max z) / Σ, stable for any z)
//                                 L = (1/N) Σ_n −log p[n, y_n];   dL/dz = (p − onehot(y)) / N
//   sigmoid_binary_cross_entropy: per output, t = onehot(y), σ = 1/(1+e^−z) (Keras'
//                                 binary_crossentropy):
//                                 L = (1/(N·K)) Σ max(z,0) − z·t + log(1 + e^−|z|)  (stable form)
//                                 dL/dz = (σ − t) / (N·K)
//   mean_squared_error:           L = (1/(N·K)) Σ (z − t)²;       dL/dz = 2(z − t) / (N·K)
// clang-format on
// `correct` counts rows whose arg-max is the label, for every loss.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nn/tensor.hpp"

namespace kiln::nn {

struct LossResult {
  double loss = 0.0;         // batch mean
  std::int64_t correct = 0;  // rows whose arg-max equals the label
  // Rows whose label is among the 5 highest outputs (ties ranked by class id, as arg max does).
  std::int64_t correct_top5 = 0;
};

class Loss {
 public:
  virtual ~Loss() = default;
  virtual std::string_view name() const = 0;
  // output: (N, K). doutput (resized to N, K) may be null when only the value is needed.
  virtual LossResult compute(const Tensor& output, std::span<const std::int32_t> labels,
                             Tensor* doutput) const = 0;
};

struct SoftmaxCrossEntropy final : Loss {
  std::string_view name() const override { return "softmax_cross_entropy"; }
  LossResult compute(const Tensor& logits, std::span<const std::int32_t> labels,
                     Tensor* dlogits) const override;
  // Also writes the probabilities (N, K) when `probabilities` is not null.
  static LossResult compute(const Tensor& logits, std::span<const std::int32_t> labels,
                            Tensor* dlogits, Tensor* probabilities);
};

struct SigmoidBinaryCrossEntropy final : Loss {
  std::string_view name() const override { return "sigmoid_binary_cross_entropy"; }
  LossResult compute(const Tensor& logits, std::span<const std::int32_t> labels,
                     Tensor* dlogits) const override;
};

struct MeanSquaredError final : Loss {
  std::string_view name() const override { return "mean_squared_error"; }
  LossResult compute(const Tensor& output, std::span<const std::int32_t> labels,
                     Tensor* doutput) const override;
};

// Throws kiln::Error listing the known names.
std::unique_ptr<Loss> make_loss(const std::string& name);
std::vector<std::string> loss_names();

}  // namespace kiln::nn
