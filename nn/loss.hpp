// Losses. A loss turns the model's output and the labels into one number (the batch mean) and
// its gradient with respect to the output, in one fused pass (as llm.c does).
#pragma once

#include <cstdint>
#include <span>

#include "nn/tensor.hpp"

namespace kiln::nn {

// Softmax cross-entropy over logits (N, K):
//   p = softmax(z) computed as exp(z - max z) / Σ exp(z - max z)  (stable for any z),
//   L = (1/N) Σ_n -log p[n, label_n],   dL/dz = (p - onehot(label)) / N.
// Labels must be in [0, K): anything else throws kiln::Error naming the label.
struct SoftmaxCrossEntropy {
  struct Result {
    double loss = 0.0;         // batch mean
    std::int64_t correct = 0;  // rows whose arg-max equals the label
  };

  // logits: (N, K). labels: N ints. dlogits (resized to N, K) may be null for evaluation;
  // probabilities (resized to N, K) may be null when not needed.
  static Result compute(const Tensor& logits, std::span<const std::int32_t> labels, Tensor* dlogits,
                        Tensor* probabilities = nullptr);
};

}  // namespace kiln::nn
