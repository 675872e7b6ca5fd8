// Every random draw in kiln comes from an Rng built from a SeedKey (docs/design.md contract 1).
// A key names *which* draw this is: (run seed, epoch or step, sample index, slot). Streams are
// keyed, not sequential, so the same key gives the same numbers whatever thread or order asks for
// them, and a resumed run needs nothing but (seed, epoch, step). Generator: SplitMix64 hashes the
// key into the state of PCG32 (O'Neill 2014). Distributions are our own code because
// std::*_distribution differ between standard libraries.
#pragma once

#include <cstdint>

namespace kiln::nn {

// Slots of the random streams kiln uses; stage positions in a pipeline use 1..kSlotStageMax.
inline constexpr std::uint32_t kSlotStageMax = 0xFFFF;
inline constexpr std::uint32_t kSlotEpochOrder = 0x10000;
inline constexpr std::uint32_t kSlotInit = 0x10001;
inline constexpr std::uint32_t kSlotSplit = 0x10002;          // train/validation split of a dataset
inline constexpr std::uint32_t kSlotSearch = 0x10003;         // a search's trial parameters
inline constexpr std::uint32_t kSlotBatchMix = 0x10004;       // mixup and cutmix, per sample
inline constexpr std::uint32_t kSlotBalancedOrder = 0x10005;  // data.sampler balanced, per position
inline constexpr std::uint32_t kSlotLayerBase = 0x20000;      // + layer position (dropout, ...)

struct SeedKey {
  std::uint64_t run_seed = 0;
  std::uint64_t epoch_or_step = 0;
  std::uint64_t index = 0;
  std::uint32_t slot = 0;
};

// THREAD SAFETY: an Rng is a value; give each task its own (built from its key), never share one.
class Rng {
 public:
  explicit Rng(const SeedKey& key);

  std::uint32_t next_u32() {  // PCG-XSH-RR 64/32; inline: per-element draws (dropout) call it
    const std::uint64_t old = state_;
    state_ = old * 6364136223846793005ull + increment_;
    const auto xorshifted = static_cast<std::uint32_t>(((old >> 18u) ^ old) >> 27u);
    const auto rot = static_cast<std::uint32_t>(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((32u - rot) & 31u));
  }
  float uniform(float lo = 0.f, float hi = 1.f);                     // [lo, hi), 24 random bits
  float normal(float mean = 0.f, float stddev = 1.f);                // Box-Muller
  bool bernoulli(float p);                                           // true with probability p
  std::int64_t randint(std::int64_t lo, std::int64_t hi_exclusive);  // unbiased, by rejection

 private:
  std::uint64_t state_ = 0;
  std::uint64_t increment_ = 0;
  bool has_spare_normal_ = false;
  float spare_normal_ = 0.f;
};

}  // namespace kiln::nn
