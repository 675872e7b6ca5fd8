#include "nn/random.hpp"

#include <cassert>
#include <cmath>
#include <numbers>

namespace kiln::nn {
namespace {

// SplitMix64 (Steele, Lea, Flood 2014): a bijective mixer, so distinct keys give distinct states.
std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

Rng::Rng(const SeedKey& key) {
  // Fold the fields one after another through the mixer: every field changes every output bit.
  std::uint64_t h = key.run_seed;
  std::uint64_t mixed = splitmix64(h);
  h = mixed ^ key.epoch_or_step;
  mixed = splitmix64(h);
  h = mixed ^ key.index;
  mixed = splitmix64(h);
  h = mixed ^ key.slot;
  state_ = splitmix64(h);
  increment_ = splitmix64(h) | 1u;  // PCG's stream selector must be odd
  next_u32();
}

float Rng::uniform(float lo, float hi) {
  const float u = static_cast<float>(next_u32() >> 8) * (1.0f / 16777216.0f);  // [0, 1)
  return lo + (hi - lo) * u;
}

float Rng::normal(float mean, float stddev) {
  if (has_spare_normal_) {
    has_spare_normal_ = false;
    return mean + stddev * spare_normal_;
  }
  // Box-Muller in double; u1 in (0, 1] so log() is finite.
  const double u1 = 1.0 - static_cast<double>(next_u32()) * (1.0 / 4294967296.0);
  const double u2 = static_cast<double>(next_u32()) * (1.0 / 4294967296.0);
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 2.0 * std::numbers::pi * u2;
  spare_normal_ = static_cast<float>(radius * std::sin(angle));
  has_spare_normal_ = true;
  return mean + stddev * static_cast<float>(radius * std::cos(angle));
}

bool Rng::bernoulli(float p) { return uniform() < p; }

std::int64_t Rng::randint(std::int64_t lo, std::int64_t hi_exclusive) {
  assert(hi_exclusive > lo);
  const auto range = static_cast<std::uint64_t>(hi_exclusive - lo);
  if (range <= 0xFFFFFFFFull) {
    // Lemire's rejection: drop the low values that would bias the modulo.
    const auto range32 = static_cast<std::uint32_t>(range);
    const std::uint32_t threshold = static_cast<std::uint32_t>(-range32) % range32;
    while (true) {
      const std::uint32_t r = next_u32();
      if (r >= threshold) return lo + static_cast<std::int64_t>(r % range32);
    }
  }
  const std::uint64_t threshold = (0 - range) % range;
  while (true) {
    const std::uint64_t r = (static_cast<std::uint64_t>(next_u32()) << 32) | next_u32();
    if (r >= threshold) return lo + static_cast<std::int64_t>(r % range);
  }
}

}  // namespace kiln::nn
