// The order in which an epoch visits the dataset: a Fisher–Yates permutation drawn from
// Rng{seed, epoch, 0, kSlotEpochOrder} (or the identity when not shuffling), then shard `rank` of
// `shards` takes every shards-th position. Same (seed, epoch) ⇒ same order on every machine.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace kiln::pipeline {

std::vector<std::uint64_t> epoch_order(std::uint64_t size, std::uint64_t seed, std::uint64_t epoch,
                                       bool shuffle, std::uint64_t rank = 0,
                                       std::uint64_t shards = 1);

// A class-balanced epoch (data.sampler "balanced"): labels.size() draws, each a class chosen
// uniformly, then one of that class's rows chosen uniformly, both from
// Rng{seed, epoch, position, kSlotBalancedOrder}: PyTorch's WeightedRandomSampler with weights
// 1 / class count, with replacement. Each position is drawn on its own, so any rank computes the
// same order and a resume needs only (seed, epoch). Returns positions into `labels`. Throws
// kiln::ConfigError naming a class (of `classes`) that has no rows.
std::vector<std::uint64_t> balanced_order(std::span<const std::int32_t> labels,
                                          const std::vector<std::string>& classes,
                                          std::uint64_t seed, std::uint64_t epoch);

}  // namespace kiln::pipeline
