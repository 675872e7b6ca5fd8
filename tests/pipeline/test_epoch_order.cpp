#include <gtest/gtest.h>

#include <algorithm>
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

}  // namespace
}  // namespace kiln::pipeline
