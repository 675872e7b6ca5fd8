#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "nn/error.hpp"
#include "pipeline/epoch_order.hpp"

namespace kiln::pipeline {
namespace {

TEST(EpochOrder, IsAPermutationThatDependsOnlyOnSeedAndEpoch) {
  const auto a = epoch_order(1000, 7, 3, true);
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::uint64_t> identity(1000);
  std::iota(identity.begin(), identity.end(), std::uint64_t{0});
  EXPECT_EQ(sorted, identity);
  EXPECT_NE(a, identity);
  EXPECT_EQ(epoch_order(1000, 7, 3, true), a);
  EXPECT_NE(epoch_order(1000, 7, 4, true), a);
  EXPECT_NE(epoch_order(1000, 8, 3, true), a);
  EXPECT_EQ(epoch_order(1000, 7, 3, false), identity);
}

TEST(EpochOrder, ShardsPartitionTheEpoch) {
  const auto whole = epoch_order(101, 1, 0, true);
  std::vector<std::uint64_t> joined;
  for (std::uint64_t rank = 0; rank < 3; ++rank) {
    const auto shard = epoch_order(101, 1, 0, true, rank, 3);
    EXPECT_NEAR(static_cast<double>(shard.size()), 101.0 / 3, 1.0);
    joined.insert(joined.end(), shard.begin(), shard.end());
  }
  std::sort(joined.begin(), joined.end());
  auto sorted = whole;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(joined, sorted);
  EXPECT_THROW(epoch_order(10, 1, 0, true, 3, 3), Error);
}

TEST(EpochOrder, EveryPositionIsEquallyLikely) {
  // Where does item 0 land, over many epochs? Fisher–Yates makes every slot equally likely.
  std::vector<int> counts(5, 0);
  for (std::uint64_t epoch = 0; epoch < 5000; ++epoch) {
    const auto order = epoch_order(5, 1, epoch, true);
    ++counts[static_cast<std::size_t>(std::find(order.begin(), order.end(), 0u) - order.begin())];
  }
  for (int c : counts) EXPECT_NEAR(c, 1000, 120);
}

// A long tail: class k holds 100, 50, 20, 5 rows. Over 200 epochs of 175 draws (fixed seed), a
// balanced epoch draws every class a quarter of the time (a binomial's 4.5σ is ±0.011 here),
// and within a class every row alike; the random sampler keeps the data's frequencies.
TEST(BalancedOrder, DrawsEveryClassEquallyOftenOverManyEpochs) {
  std::vector<std::int32_t> labels;
  const int sizes[] = {100, 50, 20, 5};
  for (int k = 0; k < 4; ++k) labels.insert(labels.end(), static_cast<std::size_t>(sizes[k]), k);
  const std::vector<std::string> classes = {"a", "b", "c", "d"};
  std::vector<double> per_class(4, 0);
  std::vector<int> rare_rows(5, 0);  // draws of each of class d's rows
  double draws = 0;
  for (std::uint64_t epoch = 0; epoch < 200; ++epoch) {
    const auto order = balanced_order(labels, classes, 9, epoch);
    ASSERT_EQ(order.size(), labels.size());
    for (const std::uint64_t p : order) {
      ++per_class[static_cast<std::size_t>(labels[p])];
      if (labels[p] == 3) ++rare_rows[p - 170];
      ++draws;
    }
  }
  for (const double n : per_class) EXPECT_NEAR(n / draws, 0.25, 0.011);
  for (const int n : rare_rows) EXPECT_NEAR(n, per_class[3] / 5, 4.5 * std::sqrt(per_class[3] * 0.16));
  // Keyed by (seed, epoch): the same order again, another epoch another one.
  EXPECT_EQ(balanced_order(labels, classes, 9, 3), balanced_order(labels, classes, 9, 3));
  EXPECT_NE(balanced_order(labels, classes, 9, 3), balanced_order(labels, classes, 9, 4));
}

TEST(BalancedOrder, AClassWithoutRowsIsNamed) {
  try {
    balanced_order(std::vector<std::int32_t>{0, 0, 2}, {"cat", "dog", "emu"}, 1, 0);
    FAIL() << "an empty class accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'dog'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("data.sampler"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln::pipeline
