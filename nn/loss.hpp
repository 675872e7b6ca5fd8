// Losses. A loss turns the model's output (N, K) and the targets into one number (the batch mean)
// and its gradient with respect to the output, in one fused pass (as llm.c does). Labels are class
// indices in [0, K); anything else throws kiln::Error naming the label.
// The target row t of a sample is one-hot at its label, or the soft targets a batch stage wrote
// (mixup, cutmix: Batch::targets); with label smoothing ε it becomes (1 − ε)·t + ε/K (softmax) or
// (1 − ε)·t + ε/2 (sigmoid), as Keras and PyTorch smooth. With class weights w, each row counts
// with the weight Σ_c t[c]·w[c] (for a one-hot row: w[label]) and the batch mean stays over N rows,
// as Keras' class_weight does.
// clang-format off
//   softmax_cross_entropy:        p = softmax(z) (computed as exp(z − max z) / Σ, stable for any z)
//                                 L = (1/N) Σ_n w_n Σ_c −t[n,c]·log p[n,c];  dL/dz = w_n (p − t) / N
//   sigmoid_binary_cross_entropy: per output, σ = 1/(1+e^−z) (Keras' binary_crossentropy):
//                                 L = (1/(N·K)) Σ w_n (max(z,0) − z·t + log(1 + e^−|z|))  (stable form)
//                                 dL/dz = w_n (σ − t) / (N·K)
//   mean_squared_error:           L = (1/(N·K)) Σ w_n (z − t)²;       dL/dz = 2 w_n (z − t) / (N·K)
//   mean_absolute_error:          L = (1/(N·K)) Σ w_n |z − t|;        dL/dz = w_n sign(z − t) / (N·K)
//   huber (δ, PyTorch's HuberLoss): per output d = z − t, ½d² when |d| <= δ, else δ(|d| − ½δ);
//                                 L = (1/(N·K)) Σ w_n huber(d);  dL/dz = w_n clamp(d, −δ, δ) / (N·K)
// clang-format on
// The task (nn/task.hpp) says what the targets are: classification compares with the labels (or
// the soft rows); multi_label and regression with Targets::soft, the dataset's target rows (mixed
// when a batch stage mixed them). What `correct` counts follows the task: classification, rows
// whose arg-max is the label; multi_label, rows whose every output is on the target's side of 0.5
// (subset accuracy); regression, none (absolute_error sums each row's mean |z − t|).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nn/task.hpp"
#include "nn/tensor.hpp"

namespace kiln::nn {

struct LossResult {
  double loss = 0.0;         // batch mean
  std::int64_t correct = 0;  // rows whose arg-max equals the label
  // Rows whose label is among the 5 highest outputs (ties ranked by class id, as arg max does).
  std::int64_t correct_top5 = 0;
  double absolute_error = 0.0;  // regression: Σ over rows of the row's mean |z − t|
};

// What the outputs are compared with: every row's class, and the soft target rows when a batch
// stage mixed the samples (empty otherwise).
struct Targets {
  std::span<const std::int32_t> labels;  // N
  // (N, K) target rows, or null: one-hot labels. Classification: rows summing to 1 (mixed);
  // multi_label: 0/1 rows (or mixed); regression: the values.
  const Tensor* soft = nullptr;
};

struct LossOptions {
  double label_smoothing = 0.0;         // ε in [0, 1)
  std::vector<double> class_weights{};  // K weights, or empty: every class 1
  Task task = Task::kClassification;
  double huber_delta = 1.0;  // huber only: where the square turns linear
};

class Loss {
 public:
  virtual ~Loss() = default;
  virtual std::string_view name() const = 0;
  // output: (N, K). doutput (resized to N, K) may be null when only the value is needed.
  virtual LossResult compute(const Tensor& output, const Targets& targets,
                             Tensor* doutput) const = 0;
  LossResult compute(const Tensor& output, std::span<const std::int32_t> labels,
                     Tensor* doutput) const {
    return compute(output, Targets{labels}, doutput);
  }
  const LossOptions& options() const { return options_; }
  // Throws kiln::Error when smoothing is outside [0, 1), a weight is negative or not finite, or
  // this loss cannot take the options (the regression losses: no smoothing) or the task
  // (multi_label: sigmoid_binary_cross_entropy; regression: the regression losses).
  void set_options(LossOptions options);

 protected:
  LossOptions options_;
};

struct SoftmaxCrossEntropy final : Loss {
  using Loss::compute;
  std::string_view name() const override { return "softmax_cross_entropy"; }
  LossResult compute(const Tensor& logits, const Targets& targets, Tensor* dlogits) const override;
  // Plain (no smoothing, no weights) against one-hot labels; also writes the probabilities
  // (N, K) when `probabilities` is not null.
  static LossResult compute(const Tensor& logits, std::span<const std::int32_t> labels,
                            Tensor* dlogits, Tensor* probabilities);
};

struct SigmoidBinaryCrossEntropy final : Loss {
  using Loss::compute;
  std::string_view name() const override { return "sigmoid_binary_cross_entropy"; }
  LossResult compute(const Tensor& logits, const Targets& targets, Tensor* dlogits) const override;
};

struct MeanSquaredError final : Loss {
  using Loss::compute;
  std::string_view name() const override { return "mean_squared_error"; }
  LossResult compute(const Tensor& output, const Targets& targets, Tensor* doutput) const override;
};

struct MeanAbsoluteError final : Loss {
  using Loss::compute;
  std::string_view name() const override { return "mean_absolute_error"; }
  LossResult compute(const Tensor& output, const Targets& targets, Tensor* doutput) const override;
};

struct Huber final : Loss {
  using Loss::compute;
  std::string_view name() const override { return "huber"; }
  LossResult compute(const Tensor& output, const Targets& targets, Tensor* doutput) const override;
};

// Throws kiln::Error listing the known names, or naming the option the loss cannot take.
std::unique_ptr<Loss> make_loss(const std::string& name, LossOptions options = {});
std::vector<std::string> loss_names();

}  // namespace kiln::nn
