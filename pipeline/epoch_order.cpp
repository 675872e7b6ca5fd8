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

std::vector<std::uint64_t> balanced_order(std::span<const std::int32_t> labels,
                                          const std::vector<std::string>& classes,
                                          std::uint64_t seed, std::uint64_t epoch) {
  std::vector<std::vector<std::uint64_t>> rows_of(classes.size());
  for (std::size_t p = 0; p < labels.size(); ++p) {
    const std::int32_t label = labels[p];
    if (label < 0 || static_cast<std::size_t>(label) >= classes.size())
      throw Error("label " + std::to_string(label) + " is outside the dataset's " +
                  std::to_string(classes.size()) + " classes");
    rows_of[static_cast<std::size_t>(label)].push_back(p);
  }
  for (std::size_t c = 0; c < classes.size(); ++c) {
    if (rows_of[c].empty())
      throw ConfigError("'data.sampler' balanced: class '" + classes[c] +
                        "' has no training samples to draw; remove the class or use the "
                        "\"random\" sampler");
  }
  const auto class_count = static_cast<std::int64_t>(classes.size());
  std::vector<std::uint64_t> order(labels.size());
  for (std::size_t p = 0; p < order.size(); ++p) {
    nn::Rng rng({seed, epoch, p, nn::kSlotBalancedOrder});
    const auto& rows = rows_of[static_cast<std::size_t>(rng.randint(0, class_count))];
    order[p] =
        rows[static_cast<std::size_t>(rng.randint(0, static_cast<std::int64_t>(rows.size())))];
  }
  return order;
}

}  // namespace kiln::pipeline
