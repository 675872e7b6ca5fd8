#include "nn/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "nn/error.hpp"

namespace kiln::nn {

ClassificationMetrics::ClassificationMetrics(std::int64_t classes, int top_k)
    : classes_(classes),
      top_k_(top_k),
      confusion_(static_cast<std::size_t>(classes),
                 std::vector<std::int64_t>(static_cast<std::size_t>(classes), 0)) {
  if (classes < 1) throw Error("metrics: need at least one class, got " + std::to_string(classes));
  if (top_k < 1) throw Error("metrics: top_k must be >= 1, got " + std::to_string(top_k));
}

std::int32_t ClassificationMetrics::add(std::span<const float> p, std::int32_t label) {
  if (static_cast<std::int64_t>(p.size()) != classes_ || label < 0 || label >= classes_) {
    throw Error("metrics: a prediction of " + std::to_string(p.size()) + " classes with label " +
                std::to_string(label) + " does not fit " + std::to_string(classes_) + " classes");
  }
  std::int32_t best = 0;
  // Classes ranked strictly above the label (ties resolved towards the lower id, as in arg max).
  std::int64_t above = 0;
  const float mine = p[static_cast<std::size_t>(label)];
  for (std::int32_t c = 0; c < classes_; ++c) {
    const float v = p[static_cast<std::size_t>(c)];
    if (v > p[static_cast<std::size_t>(best)]) best = c;
    if (v > mine || (v == mine && c < label)) ++above;
  }
  ++samples_;
  correct_ += best == label ? 1 : 0;
  correct_top_k_ += above < top_k_ ? 1 : 0;
  loss_sum_ -= std::log(std::max(static_cast<double>(mine), 1e-12));
  ++confusion_[static_cast<std::size_t>(label)][static_cast<std::size_t>(best)];
  return best;
}

namespace {
double ratio(std::int64_t num, std::int64_t den) {
  return den == 0 ? std::numeric_limits<double>::quiet_NaN()
                  : static_cast<double>(num) / static_cast<double>(den);
}
}  // namespace

double ClassificationMetrics::loss() const {
  return samples_ == 0 ? 0.0 : loss_sum_ / static_cast<double>(samples_);
}
double ClassificationMetrics::accuracy() const {
  return samples_ == 0 ? 0.0 : ratio(correct_, samples_);
}
double ClassificationMetrics::top_k_accuracy() const {
  return samples_ == 0 ? 0.0 : ratio(correct_top_k_, samples_);
}

double ClassificationMetrics::precision(std::int64_t c) const {
  std::int64_t predicted = 0;
  for (const auto& row : confusion_) predicted += row[static_cast<std::size_t>(c)];
  return ratio(confusion_[static_cast<std::size_t>(c)][static_cast<std::size_t>(c)], predicted);
}

double ClassificationMetrics::recall(std::int64_t c) const {
  return ratio(confusion_[static_cast<std::size_t>(c)][static_cast<std::size_t>(c)], support(c));
}

double ClassificationMetrics::f1(std::int64_t c) const {
  if (support(c) == 0) return std::numeric_limits<double>::quiet_NaN();
  const double p = precision(c), r = recall(c);
  if (std::isnan(p) || p + r == 0) return 0.0;
  return 2 * p * r / (p + r);
}

double ClassificationMetrics::macro_f1() const {
  double sum = 0;
  std::int64_t present = 0;
  for (std::int64_t c = 0; c < classes_; ++c) {
    if (support(c) == 0) continue;
    sum += f1(c);
    ++present;
  }
  return present == 0 ? std::numeric_limits<double>::quiet_NaN()
                      : sum / static_cast<double>(present);
}

std::int64_t ClassificationMetrics::support(std::int64_t c) const {
  std::int64_t n = 0;
  for (const std::int64_t v : confusion_[static_cast<std::size_t>(c)]) n += v;
  return n;
}

}  // namespace kiln::nn
