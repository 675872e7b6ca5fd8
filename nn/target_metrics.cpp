#include "nn/target_metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "nn/error.hpp"

namespace kiln::nn {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double f1_of(std::int64_t tp, std::int64_t fp, std::int64_t fn) {
  const std::int64_t denominator = 2 * tp + fp + fn;
  return denominator > 0 ? 2.0 * static_cast<double>(tp) / static_cast<double>(denominator) : 0.0;
}

void check_sizes(const char* what, std::size_t a, std::size_t b, std::int64_t want) {
  if (static_cast<std::int64_t>(a) != want || static_cast<std::int64_t>(b) != want) {
    throw Error(std::string(what) + ": a row of " + std::to_string(a) + " outputs and " +
                std::to_string(b) + " targets does not fit " + std::to_string(want));
  }
}

}  // namespace

MultiLabelMetrics::MultiLabelMetrics(std::int64_t classes, double threshold)
    : classes_(classes),
      threshold_(threshold),
      true_positives_(static_cast<std::size_t>(std::max<std::int64_t>(classes, 0))),
      false_positives_(true_positives_.size()),
      false_negatives_(true_positives_.size()) {
  if (classes < 1) throw Error("multi-label metrics: need at least one class");
  if (!(threshold > 0 && threshold < 1)) {
    throw Error("the multi-label threshold must be in (0, 1), got " + std::to_string(threshold));
  }
}

void MultiLabelMetrics::add(std::span<const float> scores, std::span<const float> targets) {
  check_sizes("multi-label metrics", scores.size(), targets.size(), classes_);
  bool exact = true;
  for (std::int64_t c = 0; c < classes_; ++c) {
    const auto i = static_cast<std::size_t>(c);
    const bool present = targets[i] >= 0.5f;
    const bool predicted = scores[i] >= threshold_;
    true_positives_[i] += present && predicted;
    false_positives_[i] += !present && predicted;
    false_negatives_[i] += present && !predicted;
    exact &= present == predicted;
    scores_.push_back(scores[i]);
    present_.push_back(present);
  }
  exact_ += exact;
  ++samples_;
}

std::int64_t MultiLabelMetrics::support(std::int64_t c) const {
  const auto i = static_cast<std::size_t>(c);
  return true_positives_[i] + false_negatives_[i];
}

double MultiLabelMetrics::average_precision(std::int64_t c) const {
  const std::int64_t positives = support(c);
  if (positives == 0) return kNaN;
  std::vector<std::int64_t> order(static_cast<std::size_t>(samples_));
  std::iota(order.begin(), order.end(), 0);
  const auto score = [&](std::int64_t n) {
    return scores_[static_cast<std::size_t>(n * classes_ + c)];
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](std::int64_t a, std::int64_t b) { return score(a) > score(b); });
  // Each distinct score is one threshold: samples tied at it enter together.
  double ap = 0.0, recall_before = 0.0;
  std::int64_t seen = 0, hits = 0;
  for (std::size_t k = 0; k < order.size();) {
    const float at = score(order[k]);
    for (; k < order.size() && score(order[k]) == at; ++k) {
      ++seen;
      hits += present_[static_cast<std::size_t>(order[k] * classes_ + c)];
    }
    const double recall = static_cast<double>(hits) / static_cast<double>(positives);
    ap += (recall - recall_before) * static_cast<double>(hits) / static_cast<double>(seen);
    recall_before = recall;
  }
  return ap;
}

double MultiLabelMetrics::mean_average_precision() const {
  double sum = 0.0;
  std::int64_t counted = 0;
  for (std::int64_t c = 0; c < classes_; ++c) {
    if (support(c) == 0) continue;
    sum += average_precision(c);
    ++counted;
  }
  return counted > 0 ? sum / static_cast<double>(counted) : kNaN;
}

double MultiLabelMetrics::f1(std::int64_t c) const {
  if (support(c) == 0) return kNaN;
  const auto i = static_cast<std::size_t>(c);
  return f1_of(true_positives_[i], false_positives_[i], false_negatives_[i]);
}

double MultiLabelMetrics::micro_f1() const {
  const auto total = [](const std::vector<std::int64_t>& v) {
    return std::accumulate(v.begin(), v.end(), std::int64_t{0});
  };
  return f1_of(total(true_positives_), total(false_positives_), total(false_negatives_));
}

double MultiLabelMetrics::macro_f1() const {
  double sum = 0.0;
  std::int64_t counted = 0;
  for (std::int64_t c = 0; c < classes_; ++c) {
    if (support(c) == 0) continue;
    sum += f1(c);
    ++counted;
  }
  return counted > 0 ? sum / static_cast<double>(counted) : kNaN;
}

double MultiLabelMetrics::subset_accuracy() const {
  return samples_ > 0 ? static_cast<double>(exact_) / static_cast<double>(samples_) : kNaN;
}

RegressionMetrics::RegressionMetrics(std::int64_t targets)
    : width_(targets),
      residual_squares_(static_cast<std::size_t>(std::max<std::int64_t>(targets, 0))) {
  if (targets < 1) throw Error("regression metrics: need at least one target value");
}

void RegressionMetrics::add(std::span<const float> values, std::span<const float> targets) {
  check_sizes("regression metrics", values.size(), targets.size(), width_);
  for (std::size_t d = 0; d < values.size(); ++d) {
    const double e = static_cast<double>(values[d]) - static_cast<double>(targets[d]);
    abs_sum_ += std::abs(e);
    square_sum_ += e * e;
    residual_squares_[d] += e * e;
    targets_.push_back(targets[d]);
  }
  ++samples_;
}

double RegressionMetrics::mae() const {
  return samples_ > 0 ? abs_sum_ / static_cast<double>(samples_ * width_) : kNaN;
}

double RegressionMetrics::rmse() const {
  return samples_ > 0 ? std::sqrt(square_sum_ / static_cast<double>(samples_ * width_)) : kNaN;
}

namespace {

// The mean of target d over the samples.
double target_mean(const std::vector<float>& targets, std::int64_t width, std::int64_t d) {
  double sum = 0.0;
  for (std::size_t i = static_cast<std::size_t>(d); i < targets.size();
       i += static_cast<std::size_t>(width))
    sum += targets[i];
  return sum / static_cast<double>(targets.size() / static_cast<std::size_t>(width));
}

}  // namespace

double RegressionMetrics::r2() const {
  if (samples_ == 0) return kNaN;
  double sum = 0.0;
  for (std::int64_t d = 0; d < width_; ++d) {
    const double mean = target_mean(targets_, width_, d);
    double total = 0.0;
    for (std::size_t i = static_cast<std::size_t>(d); i < targets_.size();
         i += static_cast<std::size_t>(width_))
      total += (targets_[i] - mean) * (targets_[i] - mean);
    if (total == 0.0) return kNaN;
    sum += 1.0 - residual_squares_[static_cast<std::size_t>(d)] / total;
  }
  return sum / static_cast<double>(width_);
}

double RegressionMetrics::mean_baseline_mae() const {
  if (samples_ == 0) return kNaN;
  double sum = 0.0;
  for (std::int64_t d = 0; d < width_; ++d) {
    const double mean = target_mean(targets_, width_, d);
    for (std::size_t i = static_cast<std::size_t>(d); i < targets_.size();
         i += static_cast<std::size_t>(width_))
      sum += std::abs(targets_[i] - mean);
  }
  return sum / static_cast<double>(samples_ * width_);
}

}  // namespace kiln::nn
