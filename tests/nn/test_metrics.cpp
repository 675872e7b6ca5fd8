// ClassificationMetrics against values worked out by hand.
#include <gtest/gtest.h>

#include <cmath>

#include "nn/error.hpp"
#include "nn/metrics.hpp"

namespace kiln::nn {
namespace {

TEST(Metrics, AccuracyLossConfusionPrecisionRecall) {
  ClassificationMetrics m(3, 2);
  EXPECT_EQ(m.add(std::vector<float>{0.7f, 0.2f, 0.1f}, 0), 0);  // right
  EXPECT_EQ(m.add(std::vector<float>{0.5f, 0.4f, 0.1f}, 1), 0);  // wrong, label 2nd: top-2
  EXPECT_EQ(m.add(std::vector<float>{0.6f, 0.3f, 0.1f}, 2), 0);  // wrong, label 3rd
  EXPECT_EQ(m.add(std::vector<float>{0.1f, 0.8f, 0.1f}, 1), 1);  // right
  EXPECT_EQ(m.samples(), 4);
  EXPECT_DOUBLE_EQ(m.accuracy(), 0.5);
  EXPECT_DOUBLE_EQ(m.top_k_accuracy(), 0.75);
  const double loss = -(std::log(0.7f) + std::log(0.4f) + std::log(0.1f) + std::log(0.8f)) / 4;
  EXPECT_NEAR(m.loss(), loss, 1e-6);
  // Rows: true 0 → {1,0,0}; true 1 → {1,1,0}; true 2 → {1,0,0}.
  EXPECT_EQ(m.confusion()[0], (std::vector<std::int64_t>{1, 0, 0}));
  EXPECT_EQ(m.confusion()[1], (std::vector<std::int64_t>{1, 1, 0}));
  EXPECT_EQ(m.confusion()[2], (std::vector<std::int64_t>{1, 0, 0}));
  EXPECT_DOUBLE_EQ(m.precision(0), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.recall(0), 1.0);
  EXPECT_DOUBLE_EQ(m.precision(1), 1.0);
  EXPECT_DOUBLE_EQ(m.recall(1), 0.5);
  EXPECT_TRUE(std::isnan(m.precision(2)));  // never predicted
  EXPECT_DOUBLE_EQ(m.recall(2), 0.0);
  EXPECT_EQ(m.support(1), 2);
  // F1: class 0 2·(1/3)·1 / (4/3) = 1/2; class 1 2·1·(1/2) / (3/2) = 2/3; class 2 present but
  // never predicted: 0. Macro: their mean, as scikit-learn's f1_score(average="macro") gives.
  EXPECT_DOUBLE_EQ(m.f1(0), 0.5);
  EXPECT_DOUBLE_EQ(m.f1(1), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.f1(2), 0.0);
  EXPECT_DOUBLE_EQ(m.macro_f1(), (0.5 + 2.0 / 3.0) / 3.0);
  ClassificationMetrics absent(3, 1);  // class 2 never present: left out of the mean
  absent.add(std::vector<float>{0.9f, 0.1f, 0.f}, 0);
  absent.add(std::vector<float>{0.1f, 0.9f, 0.f}, 1);
  EXPECT_TRUE(std::isnan(absent.f1(2)));
  EXPECT_DOUBLE_EQ(absent.macro_f1(), 1.0);
}

TEST(Metrics, TiesGoToTheLowerClassId) {
  ClassificationMetrics m(3, 1);
  EXPECT_EQ(m.add(std::vector<float>{0.4f, 0.4f, 0.2f}, 1), 0);
  EXPECT_DOUBLE_EQ(m.top_k_accuracy(), 0.0);  // class 0 ranks first in the tie
  EXPECT_EQ(m.add(std::vector<float>{0.4f, 0.4f, 0.2f}, 0), 0);
  EXPECT_DOUBLE_EQ(m.top_k_accuracy(), 0.5);
}

TEST(Metrics, ALabelOutsideTheClassesIsAnError) {
  ClassificationMetrics m(2);
  EXPECT_THROW(m.add(std::vector<float>{0.5f, 0.5f}, 2), Error);
  EXPECT_THROW(m.add(std::vector<float>{1.f}, 0), Error);
  EXPECT_THROW(ClassificationMetrics(0), Error);
}

}  // namespace
}  // namespace kiln::nn
