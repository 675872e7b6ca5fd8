// The order in which an epoch visits the dataset: a Fisher–Yates permutation drawn from
// Rng{seed, epoch, 0, kSlotEpochOrder} (or the identity when not shuffling), then shard `rank` of
// `shards` takes every shards-th position. Same (seed, epoch) ⇒ same order on every machine.
#pragma once

#include <cstdint>
#include <vector>

namespace kiln::pipeline {

std::vector<std::uint64_t> epoch_order(std::uint64_t size, std::uint64_t seed, std::uint64_t epoch,
                                       bool shuffle, std::uint64_t rank = 0,
                                       std::uint64_t shards = 1);

}  // namespace kiln::pipeline
