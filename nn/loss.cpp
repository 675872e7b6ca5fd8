#include "nn/loss.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "nn/error.hpp"

namespace kiln::nn {
namespace {

// Checks the targets against the output and prepares the gradient buffer; returns (N, K).
std::pair<std::int64_t, std::int64_t> prepare(const Tensor& output, const Targets& targets,
                                              Tensor* doutput, std::string_view loss,
                                              const LossOptions& options) {
  const std::int64_t n = output.shape().n, k = output.shape().per_sample();
  if (static_cast<std::int64_t>(targets.labels.size()) != n) {
    throw Error(std::string(loss) + ": " + std::to_string(targets.labels.size()) + " labels for " +
                std::to_string(n) + " rows");
  }
  if (options.task != Task::kClassification && !targets.soft) {
    throw Error(std::string(loss) + ": a " + std::string(task_name(options.task)) +
                " batch came without its target rows");
  }
  for (const std::int32_t label : targets.labels) {
    if (options.task == Task::kClassification && (label < 0 || label >= k)) {
      throw Error("label " + std::to_string(label) + " is outside [0, " + std::to_string(k) +
                  "): the model has " + std::to_string(k) + " outputs; check the dataset's labels");
    }
  }
  if (targets.soft && (targets.soft->shape().n != n || targets.soft->shape().per_sample() != k)) {
    throw Error(std::string(loss) + ": soft targets " + targets.soft->shape().str() +
                " for an output " + output.shape().str());
  }
  if (!options.class_weights.empty() &&
      static_cast<std::int64_t>(options.class_weights.size()) != k) {
    throw Error(std::string(loss) + ": " + std::to_string(options.class_weights.size()) +
                " class weights for a model with " + std::to_string(k) +
                " outputs; give one weight per class");
  }
  if (doutput) doutput->resize({n, k, 1, 1});
  return {n, k};
}

// Row r's target distribution, as the header defines it: one-hot at the label or the soft row,
// then smoothed towards `uniform`; returns the row's class weight.
double target_row(const Targets& targets, const LossOptions& options, std::int64_t r,
                  std::int64_t k, double uniform, std::vector<double>& t) {
  t.assign(static_cast<std::size_t>(k), 0.0);
  if (targets.soft) {
    const float* soft = targets.soft->data() + r * k;
    for (std::int64_t c = 0; c < k; ++c) t[static_cast<std::size_t>(c)] = soft[c];
  } else {
    t[static_cast<std::size_t>(targets.labels[static_cast<std::size_t>(r)])] = 1.0;
  }
  const double eps = options.label_smoothing;
  if (eps > 0) {
    for (double& v : t) v = (1.0 - eps) * v + eps * uniform;
  }
  if (options.class_weights.empty()) return 1.0;
  if (!targets.soft)
    return options
        .class_weights[static_cast<std::size_t>(targets.labels[static_cast<std::size_t>(r)])];
  double weight = 0.0;  // of the classes the row mixes, before smoothing
  const float* soft = targets.soft->data() + r * k;
  for (std::int64_t c = 0; c < k; ++c)
    weight += static_cast<double>(soft[c]) * options.class_weights[static_cast<std::size_t>(c)];
  return weight;
}

// Classification: sets result.correct (top-1) and result.correct_top5 from the rank of each
// row's label.
void count_label_hits(const Tensor& output, std::span<const std::int32_t> labels, std::int64_t k,
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

// What the task counts right (the header): top-1/top-5, exact label sets, or the absolute error.
void count_hits(const Tensor& output, const Targets& targets, const LossOptions& options,
                std::int64_t k, LossResult& result) {
  if (options.task == Task::kClassification) {
    count_label_hits(output, targets.labels, k, result);
    return;
  }
  const std::int64_t n = output.shape().n;
  for (std::int64_t r = 0; r < n; ++r) {
    const float* z = output.data() + r * k;
    const float* t = targets.soft->data() + r * k;
    if (options.task == Task::kMultiLabel) {
      bool exact = true;
      for (std::int64_t c = 0; c < k; ++c) exact &= (z[c] >= 0.f) == (t[c] >= 0.5f);
      result.correct += exact;
      continue;
    }
    double row = 0.0;
    for (std::int64_t c = 0; c < k; ++c) row += std::abs(static_cast<double>(z[c]) - t[c]);
    result.absolute_error += row / static_cast<double>(k);
  }
}

bool is_regression_loss(std::string_view name) {
  return name == "mean_squared_error" || name == "mean_absolute_error" || name == "huber";
}

}  // namespace

void Loss::set_options(LossOptions options) {
  if (!(options.label_smoothing >= 0 && options.label_smoothing < 1)) {
    throw Error(std::string(name()) + ": label smoothing must be in [0, 1), got " +
                std::to_string(options.label_smoothing));
  }
  if (options.label_smoothing > 0 && is_regression_loss(name())) {
    throw Error(std::string(name()) +
                " takes no label smoothing; smoothing applies to "
                "softmax_cross_entropy and sigmoid_binary_cross_entropy");
  }
  const std::string task(task_name(options.task));
  if (options.task == Task::kMultiLabel && name() != "sigmoid_binary_cross_entropy") {
    throw Error(std::string(name()) + " does not fit task " + task +
                ": every class is a yes or no of its own; use sigmoid_binary_cross_entropy");
  }
  if (options.task == Task::kRegression && !is_regression_loss(name())) {
    throw Error(std::string(name()) + " does not fit task " + task +
                ": use mean_squared_error, mean_absolute_error or huber");
  }
  if (options.task != Task::kClassification && !options.class_weights.empty()) {
    throw Error("class weights are for task classification, not " + task +
                "; leave loss.class_weights out");
  }
  if (!(options.huber_delta > 0) || !std::isfinite(options.huber_delta)) {
    throw Error("huber: delta must be a finite number > 0, got " +
                std::to_string(options.huber_delta));
  }
  for (std::size_t c = 0; c < options.class_weights.size(); ++c) {
    const double w = options.class_weights[c];
    if (!std::isfinite(w) || w < 0) {
      throw Error(std::string(name()) + ": class weight " + std::to_string(c) +
                  " must be a finite number >= 0, got " + std::to_string(w));
    }
  }
  options_ = std::move(options);
}

// softmax_cross_entropy

LossResult SoftmaxCrossEntropy::compute(const Tensor& logits, const Targets& targets,
                                        Tensor* dlogits) const {
  const auto [n, k] = prepare(logits, targets, dlogits, name(), options_);
  LossResult result;
  const double inv_n = 1.0 / static_cast<double>(std::max<std::int64_t>(n, 1));
  const double uniform = 1.0 / static_cast<double>(k);
  std::vector<double> t;
  // Serial over rows: N·K is tiny next to the layers, and a fixed order keeps the sum reproducible.
  for (std::int64_t r = 0; r < n; ++r) {
    const double weight = target_row(targets, options_, r, k, uniform, t);
    const float* z = logits.data() + r * k;
    const float z_max = *std::max_element(z, z + k);
    double sum = 0.0;
    for (std::int64_t j = 0; j < k; ++j) sum += std::exp(static_cast<double>(z[j] - z_max));
    const double log_sum = std::log(sum);
    double row = 0.0;  // −Σ t log p
    for (std::int64_t j = 0; j < k; ++j) {
      const double tj = t[static_cast<std::size_t>(j)];
      if (tj != 0.0) row += tj * (log_sum - static_cast<double>(z[j] - z_max));
    }
    result.loss += row * weight * inv_n;
    if (!dlogits) continue;
    for (std::int64_t j = 0; j < k; ++j) {
      const double p = std::exp(static_cast<double>(z[j] - z_max) - log_sum);
      (*dlogits)[r * k + j] =
          static_cast<float>((p - t[static_cast<std::size_t>(j)]) * weight * inv_n);
    }
  }
  count_hits(logits, targets, options_, k, result);
  return result;
}

LossResult SoftmaxCrossEntropy::compute(const Tensor& logits, std::span<const std::int32_t> labels,
                                        Tensor* dlogits, Tensor* probabilities) {
  const SoftmaxCrossEntropy plain;
  const LossResult result = plain.compute(logits, Targets{labels}, dlogits);
  if (probabilities) {
    const std::int64_t n = logits.shape().n, k = logits.shape().per_sample();
    probabilities->resize({n, k, 1, 1});
    for (std::int64_t r = 0; r < n; ++r) {
      const float* z = logits.data() + r * k;
      const float z_max = *std::max_element(z, z + k);
      double sum = 0.0;
      for (std::int64_t j = 0; j < k; ++j) sum += std::exp(static_cast<double>(z[j] - z_max));
      const double log_sum = std::log(sum);
      for (std::int64_t j = 0; j < k; ++j)
        (*probabilities)[r * k + j] =
            static_cast<float>(std::exp(static_cast<double>(z[j] - z_max) - log_sum));
    }
  }
  return result;
}

// sigmoid_binary_cross_entropy

LossResult SigmoidBinaryCrossEntropy::compute(const Tensor& logits, const Targets& targets,
                                              Tensor* dlogits) const {
  const auto [n, k] = prepare(logits, targets, dlogits, name(), options_);
  LossResult result;
  const double scale = 1.0 / static_cast<double>(std::max<std::int64_t>(n * k, 1));
  std::vector<double> t;
  for (std::int64_t r = 0; r < n; ++r) {
    const double weight = target_row(targets, options_, r, k, 0.5, t);
    for (std::int64_t j = 0; j < k; ++j) {
      const double z = logits[r * k + j];
      const double tj = t[static_cast<std::size_t>(j)];
      result.loss +=
          (std::max(z, 0.0) - z * tj + std::log1p(std::exp(-std::abs(z)))) * weight * scale;
      if (dlogits)
        (*dlogits)[r * k + j] =
            static_cast<float>((1.0 / (1.0 + std::exp(-z)) - tj) * weight * scale);
    }
  }
  count_hits(logits, targets, options_, k, result);
  return result;
}

namespace {

// The element-wise losses on d = z − t: per output value(d) and its derivative gradient(d), each
// row weighted, the sum a mean over the N·K outputs.
template <class Value, class Gradient>
LossResult elementwise_loss(const Tensor& output, const Targets& targets, Tensor* doutput,
                            std::string_view name, const LossOptions& options, Value value,
                            Gradient gradient) {
  const auto [n, k] = prepare(output, targets, doutput, name, options);
  LossResult result;
  const double scale = 1.0 / static_cast<double>(std::max<std::int64_t>(n * k, 1));
  std::vector<double> t;
  for (std::int64_t r = 0; r < n; ++r) {
    const double weight = target_row(targets, options, r, k, 0.0, t);
    for (std::int64_t j = 0; j < k; ++j) {
      const double diff = output[r * k + j] - t[static_cast<std::size_t>(j)];
      result.loss += value(diff) * weight * scale;
      if (doutput) (*doutput)[r * k + j] = static_cast<float>(gradient(diff) * weight * scale);
    }
  }
  count_hits(output, targets, options, k, result);
  return result;
}

}  // namespace

LossResult MeanSquaredError::compute(const Tensor& output, const Targets& targets,
                                     Tensor* doutput) const {
  return elementwise_loss(
      output, targets, doutput, name(), options_, [](double d) { return d * d; },
      [](double d) { return 2.0 * d; });
}

LossResult MeanAbsoluteError::compute(const Tensor& output, const Targets& targets,
                                      Tensor* doutput) const {
  return elementwise_loss(
      output, targets, doutput, name(), options_, [](double d) { return std::abs(d); },
      [](double d) { return d > 0 ? 1.0 : (d < 0 ? -1.0 : 0.0); });
}

LossResult Huber::compute(const Tensor& output, const Targets& targets, Tensor* doutput) const {
  const double delta = options_.huber_delta;
  return elementwise_loss(
      output, targets, doutput, name(), options_,
      [delta](double d) {
        const double a = std::abs(d);
        return a <= delta ? 0.5 * d * d : delta * (a - 0.5 * delta);
      },
      [delta](double d) { return std::clamp(d, -delta, delta); });
}

std::unique_ptr<Loss> make_loss(const std::string& name, LossOptions options) {
  std::unique_ptr<Loss> loss;
  if (name == "softmax_cross_entropy") loss = std::make_unique<SoftmaxCrossEntropy>();
  if (name == "sigmoid_binary_cross_entropy") loss = std::make_unique<SigmoidBinaryCrossEntropy>();
  if (name == "mean_squared_error") loss = std::make_unique<MeanSquaredError>();
  if (name == "mean_absolute_error") loss = std::make_unique<MeanAbsoluteError>();
  if (name == "huber") loss = std::make_unique<Huber>();
  if (loss) {
    loss->set_options(std::move(options));
    return loss;
  }
  std::string known;
  for (const auto& n : loss_names()) known += (known.empty() ? "" : ", ") + n;
  throw Error("unknown loss '" + name + "'; known losses: " + known);
}

std::vector<std::string> loss_names() {
  return {"softmax_cross_entropy", "sigmoid_binary_cross_entropy", "mean_squared_error",
          "mean_absolute_error", "huber"};
}

}  // namespace kiln::nn
