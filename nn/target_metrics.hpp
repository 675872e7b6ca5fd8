// What an evaluation reports for the tasks beyond one class per sample (nn/task.hpp), accumulated
// one sample at a time from its scores (sigmoid probabilities, or values; with multi-crop the mean
// over the views) and its target row.
//
// MultiLabelMetrics, as scikit-learn computes them:
//   average precision of class c  Σ_n (R_n − R_{n−1}) · P_n over the distinct scores, highest first
//                                 (average_precision_score); NaN when c is never present
//   mAP                           the mean AP over the classes present (macro)
//   F1 at a threshold             a class is predicted when its score is >= threshold; micro F1
//                                 pools every class's counts, macro F1 is the mean F1 of the classes
//                                 present (zero_division = 0)
//   subset accuracy               samples whose predicted set equals the true set exactly
// RegressionMetrics, over every value of every sample:
//   MAE  mean |y − t|;  RMSE  sqrt(mean (y − t)²);  R²  1 − SS_res / SS_tot per target, averaged
//   over the targets (r2_score's uniform_average); the MAE of always predicting the targets' mean,
//   the baseline a model must beat.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace kiln::nn {

class MultiLabelMetrics {
 public:
  // Throws kiln::Error for fewer than one class or a threshold outside (0, 1).
  explicit MultiLabelMetrics(std::int64_t classes, double threshold = 0.5);

  // requires: scores.size() == targets.size() == classes; a target is present when >= 0.5.
  void add(std::span<const float> scores, std::span<const float> targets);

  std::int64_t samples() const { return samples_; }
  std::int64_t classes() const { return classes_; }
  double threshold() const { return threshold_; }
  double average_precision(std::int64_t c) const;
  double mean_average_precision() const;  // NaN when no class is present
  double micro_f1() const;
  double macro_f1() const;
  double f1(std::int64_t c) const;  // NaN when c is never present
  double subset_accuracy() const;
  std::int64_t support(std::int64_t c) const;  // samples where c is present

 private:
  std::int64_t classes_;
  double threshold_;
  std::int64_t samples_ = 0, exact_ = 0;
  std::vector<float> scores_;          // samples × classes
  std::vector<std::uint8_t> present_;  // samples × classes
  std::vector<std::int64_t> true_positives_, false_positives_, false_negatives_;
};

class RegressionMetrics {
 public:
  explicit RegressionMetrics(std::int64_t targets);

  // requires: values.size() == targets.size() == the targets per sample.
  void add(std::span<const float> values, std::span<const float> targets);

  std::int64_t samples() const { return samples_; }
  std::int64_t targets() const { return width_; }
  double mae() const;
  double rmse() const;
  double r2() const;  // NaN when a target is constant over the samples
  double mean_baseline_mae() const;

 private:
  std::int64_t width_;
  std::int64_t samples_ = 0;
  double abs_sum_ = 0.0, square_sum_ = 0.0;
  std::vector<float> targets_;            // samples × width: for the baseline and R²'s total sum
  std::vector<double> residual_squares_;  // per target
};

}  // namespace kiln::nn
