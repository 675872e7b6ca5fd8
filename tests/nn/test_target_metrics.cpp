#include <gtest/gtest.h>

#include <cmath>

#include "nn/error.hpp"
#include "nn/target_metrics.hpp"
#include "nn/task.hpp"

namespace kiln::nn {
namespace {

// scikit-learn's average_precision_score documentation example: y = [0, 0, 1, 1],
// scores [0.1, 0.4, 0.35, 0.8] → 0.8333...; by hand: at 0.8 P = 1 (R 0.5), at 0.4 P = 1/2,
// at 0.35 P = 2/3 (R 1): 0.5·1 + 0.5·(2/3).
TEST(MultiLabelMetrics, AveragePrecisionAsScikitLearnComputesIt) {
  MultiLabelMetrics m(1);
  const float scores[] = {0.1f, 0.4f, 0.35f, 0.8f}, truth[] = {0, 0, 1, 1};
  for (int i = 0; i < 4; ++i) m.add(std::span(&scores[i], 1), std::span(&truth[i], 1));
  EXPECT_NEAR(m.average_precision(0), 0.5 + 0.5 * 2.0 / 3.0, 1e-12);
}

// Tied scores enter together: one threshold, the precision of the whole tie.
TEST(MultiLabelMetrics, TiedScoresCountAsOneThreshold) {
  MultiLabelMetrics m(1);
  const float scores[] = {0.5f, 0.5f, 0.2f}, truth[] = {1, 0, 1};
  for (int i = 0; i < 3; ++i) m.add(std::span(&scores[i], 1), std::span(&truth[i], 1));
  // At 0.5: R = 1/2, P = 1/2; at 0.2: R = 1, P = 2/3.
  EXPECT_NEAR(m.average_precision(0), 0.5 * 0.5 + 0.5 * 2.0 / 3.0, 1e-12);
}

TEST(MultiLabelMetrics, F1SubsetAccuracyAndAbsentClassesByHand) {
  MultiLabelMetrics m(3, 0.5);
  // Class 0: TP, TP, FN. Class 1: FP, TN, TN. Class 2 never present, never predicted.
  const float s[3][3] = {{0.9f, 0.7f, 0.1f}, {0.6f, 0.2f, 0.3f}, {0.4f, 0.1f, 0.2f}};
  const float t[3][3] = {{1, 0, 0}, {1, 0, 0}, {1, 0, 0}};
  for (int i = 0; i < 3; ++i) m.add(s[i], t[i]);
  EXPECT_NEAR(m.f1(0), 2.0 * 2 / (2 * 2 + 0 + 1), 1e-12);
  EXPECT_TRUE(std::isnan(m.f1(1)));  // never present: its false positive counts in micro F1 only
  EXPECT_TRUE(std::isnan(m.f1(2)));
  EXPECT_TRUE(std::isnan(m.average_precision(2)));
  // Micro: TP 2, FP 1, FN 1. Macro over the classes present (0 only).
  EXPECT_NEAR(m.micro_f1(), 2.0 * 2 / (4 + 1 + 1), 1e-12);
  EXPECT_NEAR(m.macro_f1(), m.f1(0), 1e-12);
  EXPECT_NEAR(m.subset_accuracy(), 1.0 / 3, 1e-12);  // only the second row is exact
  EXPECT_NEAR(m.mean_average_precision(), 1.0, 1e-12);
  EXPECT_EQ(m.support(0), 3);
  EXPECT_THROW(MultiLabelMetrics(3, 1.0), Error);
}

TEST(RegressionMetrics, MaeRmseR2AndTheMeanBaselineByHand) {
  RegressionMetrics m(1);
  const float values[] = {1.f, 2.f, 4.f}, targets[] = {1.f, 3.f, 2.f};  // errors 0, 1, 2
  for (int i = 0; i < 3; ++i) m.add(std::span(&values[i], 1), std::span(&targets[i], 1));
  EXPECT_NEAR(m.mae(), 1.0, 1e-12);
  EXPECT_NEAR(m.rmse(), std::sqrt(5.0 / 3), 1e-12);
  // Targets' mean 2: SS_tot = 1 + 1 + 0 = 2, SS_res = 5 → R² = 1 − 5/2.
  EXPECT_NEAR(m.r2(), -1.5, 1e-12);
  EXPECT_NEAR(m.mean_baseline_mae(), 2.0 / 3, 1e-12);
  RegressionMetrics constant(1);
  const float same = 3.f;
  constant.add(std::span(&same, 1), std::span(&same, 1));
  EXPECT_TRUE(std::isnan(constant.r2()));
}

// R² averages the targets' own R² (scikit-learn's uniform_average).
TEST(RegressionMetrics, SeveralTargetsAverageTheirR2) {
  RegressionMetrics m(2);
  const float rows[3][2] = {{1, 10}, {2, 20}, {3, 30}};
  const float predicted[3][2] = {{1, 20}, {2, 20}, {3, 20}};  // perfect, then the mean
  for (int i = 0; i < 3; ++i) m.add(predicted[i], rows[i]);
  EXPECT_NEAR(m.r2(), (1.0 + 0.0) / 2, 1e-12);
}

TEST(Task, NamesOutputsAndDefaultLosses) {
  EXPECT_EQ(task_from_name("multi_label"), Task::kMultiLabel);
  EXPECT_EQ(default_loss(Task::kRegression), "mean_squared_error");
  EXPECT_THROW(task_from_name("detection"), Error);
  float z[] = {0.f, 2.f, -1.f};
  output_to_scores(Task::kMultiLabel, z, 1, 3);
  EXPECT_FLOAT_EQ(z[0], 0.5f);
  EXPECT_NEAR(z[1], 1 / (1 + std::exp(-2.0)), 1e-7);
  float v[] = {0.f, std::log(3.f)};
  output_to_scores(Task::kClassification, v, 1, 2);
  EXPECT_NEAR(v[1], 0.75, 1e-7);
  float r[] = {-7.f};
  output_to_scores(Task::kRegression, r, 1, 1);
  EXPECT_EQ(r[0], -7.f);
}

}  // namespace
}  // namespace kiln::nn
