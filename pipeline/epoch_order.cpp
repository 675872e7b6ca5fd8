#include "pipeline/epoch_order.hpp"

#include <numeric>
#include <utility>

#include "nn/error.hpp"
#include "nn/random.hpp"

namespace kiln::pipeline {

std::vector<std::uint64_t> epoch_order(std::uint64_t size, std::uint64_t seed, std::uint64_t epoch,
                                       bool shuffle, std::uint64_t rank, std::uint64_t shards) {
  if (shards == 0 || rank >= shards) {
    throw Error("shard rank " + std::to_string(rank) + " of " + std::to_string(shards) +
                " is invalid; use 0 <= rank < shards");
  }
  std::vector<std::uint64_t> order(size);
  std::iota(order.begin(), order.end(), std::uint64_t{0});
  if (shuffle && size > 1) {
    nn::Rng rng({seed, epoch, 0, nn::kSlotEpochOrder});
    for (std::uint64_t i = size - 1; i > 0; --i) {
      const auto j = static_cast<std::uint64_t>(rng.randint(0, static_cast<std::int64_t>(i) + 1));
      std::swap(order[i], order[j]);
    }
  }
  if (shards == 1) return order;
  std::vector<std::uint64_t> shard;
  for (std::uint64_t p = rank; p < size; p += shards) shard.push_back(order[p]);
  return shard;
}

}  // namespace kiln::pipeline
