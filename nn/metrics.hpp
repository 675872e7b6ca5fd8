// ClassificationMetrics: what an evaluation reports, accumulated one prediction at a time from a
// probability vector (softmax output, or the average of a group of views): loss (−log p[label]),
// top-1 and top-k accuracy, and the confusion matrix from which per-class precision, recall and
// F1, and the macro F1, follow. Ties in ranking go to the lower class id, so results do not depend on sort stability.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace kiln::nn {

class ClassificationMetrics {
 public:
  explicit ClassificationMetrics(std::int64_t classes, int top_k = 5);

  // requires: probabilities.size() == classes, 0 <= label < classes.
  // Returns the predicted class (the arg max).
  std::int32_t add(std::span<const float> probabilities, std::int32_t label);

  std::int64_t samples() const { return samples_; }
  std::int64_t classes() const { return classes_; }
  int top_k() const { return top_k_; }
  double loss() const;            // mean −log(max(p[label], 1e-12))
  double accuracy() const;        // top-1
  double top_k_accuracy() const;  // label among the k most probable
  // confusion()[t][p]: samples of true class t predicted as p.
  const std::vector<std::vector<std::int64_t>>& confusion() const { return confusion_; }
  // NaN when the class was never predicted (precision) or never present (recall).
  double precision(std::int64_t c) const;
  double recall(std::int64_t c) const;
  // 2·P·R / (P + R): NaN when the class was never present; 0 when it was but never predicted
  // right (scikit-learn's zero_division=0).
  double f1(std::int64_t c) const;
  // The mean of f1(c) over the classes present: every class counts alike, however rare
  // (scikit-learn's f1_score(average="macro") over the true labels). NaN with no samples.
  double macro_f1() const;
  std::int64_t support(std::int64_t c) const;  // samples whose true class is c

 private:
  std::int64_t classes_;
  int top_k_;
  std::int64_t samples_ = 0;
  std::int64_t correct_ = 0;
  std::int64_t correct_top_k_ = 0;
  double loss_sum_ = 0.0;
  std::vector<std::vector<std::int64_t>> confusion_;
};

}  // namespace kiln::nn
