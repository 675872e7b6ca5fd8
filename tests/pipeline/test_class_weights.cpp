// loss.class_weights resolved against the training rows, by hand.
#include <gtest/gtest.h>

#include "nn/error.hpp"
#include "pipeline/training/class_weights.hpp"

namespace kiln::pipeline {
namespace {

TEST(ClassWeights, AutoIsTheInverseFrequencyWithAMeanWeightOfOne) {
  const std::vector<std::int32_t> labels = {0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 2, 2};
  const std::vector<std::int64_t> counts = class_counts(labels, 3);
  EXPECT_EQ(counts, (std::vector<std::int64_t>{6, 2, 4}));
  const std::vector<double> w = resolve_class_weights("auto", counts, {"a", "b", "c"});
  ASSERT_EQ(w.size(), 3u);
  EXPECT_DOUBLE_EQ(w[0], 12.0 / (3 * 6));
  EXPECT_DOUBLE_EQ(w[1], 12.0 / (3 * 2));
  EXPECT_DOUBLE_EQ(w[2], 12.0 / (3 * 4));
  double mean = 0;
  for (const std::int32_t label : labels) mean += w[static_cast<std::size_t>(label)] / 12;
  EXPECT_DOUBLE_EQ(mean, 1.0);
  EXPECT_TRUE(resolve_class_weights(nullptr, counts, {}).empty());
  EXPECT_EQ(resolve_class_weights(Json{1, 2.5, 0}, counts, {}), (std::vector<double>{1, 2.5, 0}));
}

TEST(ClassWeights, AListOfAnotherLengthOrAnEmptyClassIsRefusedByName) {
  try {
    resolve_class_weights(Json{1, 2}, std::vector<std::int64_t>{3, 3, 3}, {});
    FAIL() << "two weights for three classes accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'loss.class_weights' lists 2 weights"), std::string::npos)
        << e.what();
  }
  try {
    resolve_class_weights("auto", std::vector<std::int64_t>{3, 0, 3}, {"cat", "dog", "emu"});
    FAIL() << "an empty class accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'dog'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln::pipeline
