// lane_sum: a float sum that vectorizes and is still reproducible. A plain loop is one chain of
// dependent adds (4 cycles each); the compiler may not reorder it, and Eigen's vectorized sum
// starts at the first aligned address, so its rounding depends on where malloc put the buffer.
// Here element i always goes to lane i % 16 and the lanes are added in a fixed order: the result
// depends on the values and their count alone.
#pragma once

#include <cstdint>

namespace kiln::nn {

// Σ term(i) for i < count, summed as lane_sum sums values.
template <class Term>
inline float lane_sum_of(std::int64_t count, Term term) {
  constexpr std::int64_t kLanes = 16;
  float lanes[kLanes] = {};
  std::int64_t i = 0;
  for (; i + kLanes <= count; i += kLanes)
    for (std::int64_t l = 0; l < kLanes; ++l) lanes[l] += term(i + l);
  for (std::int64_t l = 0; i < count; ++i, ++l) lanes[l] += term(i);
  float total = 0.f;
  for (const float lane : lanes) total += lane;
  return total;
}

inline float lane_sum(const float* values, std::int64_t count) {
  return lane_sum_of(count, [values](std::int64_t i) { return values[i]; });
}

}  // namespace kiln::nn
