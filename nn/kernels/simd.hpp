// 16-lane float vectors in GCC's vector extension, for the few loops the compiler does not
// vectorize well by itself (short rows, stride-2 access). Portable: GCC lowers each operation to
// what the target has (one AVX-512 instruction here, two AVX2 or four SSE ones elsewhere).
// Header-only and internal to kiln::nn.
#pragma once

#include <algorithm>
#include <cstdint>

#ifdef __AVX512F__
#include <immintrin.h>
#endif

namespace kiln::nn::simd {

using Vec = float __attribute__((vector_size(64)));
using Lanes = std::int32_t __attribute__((vector_size(64)));
constexpr std::int64_t kLanes = 16;

inline Vec load(const float* p) {
  Vec v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, Vec v) { __builtin_memcpy(p, &v, sizeof v); }
inline void store(std::int32_t* p, Lanes v) { __builtin_memcpy(p, &v, sizeof v); }

// Lanes of (a, b) picked by constant indices: GCC's __builtin_shuffle, clang's
// __builtin_shufflevector (clang builds kiln for fuzzing).
#if defined(__clang__)
#define KILN_SHUFFLE(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define KILN_SHUFFLE(a, b, ...) __builtin_shuffle(a, b, Lanes{__VA_ARGS__})
#endif

inline Lanes lane_index() { return Lanes{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}; }

// Of the 32 floats at p: the even-indexed ones, the odd-indexed ones.
inline Vec evens(const float* p) {
  return KILN_SHUFFLE(load(p), load(p + kLanes), 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                      28, 30);
}
inline Vec odds(const float* p) {
  return KILN_SHUFFLE(load(p), load(p + kLanes), 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27,
                      29, 31);
}
// The 32 floats e0 o0 e1 o1 ... e15 o15: the first 16, the last 16.
inline Vec interleave_low(Vec e, Vec o) {
  return KILN_SHUFFLE(e, o, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
}
inline Vec interleave_high(Vec e, Vec o) {
  return KILN_SHUFFLE(e, o, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
}
// Transposes the 16 × 16 block held in rows: afterwards rows[c][r] is what rows[r][c] was.
// Each round interleaves row i with row i + 8 into rows 2i and 2i + 1, which moves the element
// at (row r3r2r1r0, column c3c2c1c0) to (r2r1r0c3, c2c1c0r3): the 8-bit index (row, column)
// rotates left by one bit, so after four rounds row and column have swapped.
inline void transpose16(Vec (&rows)[16]) {
#pragma GCC unroll 4
  for (int round = 0; round < 4; ++round) {
    Vec next[16];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
      next[2 * i] = interleave_low(rows[i], rows[i + 8]);
      next[2 * i + 1] = interleave_high(rows[i], rows[i + 8]);
    }
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) rows[i] = next[i];
  }
}

// Stores the first `count` lanes of v at p (none for count <= 0, all for count >= 16) and
// nothing past them: one masked store with AVX-512, lane by lane without.
inline void store_first(float* p, Vec v, std::int64_t count) {
  const std::int64_t n = std::clamp<std::int64_t>(count, 0, kLanes);
#ifdef __AVX512F__
  _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1), reinterpret_cast<__m512>(v));
#else
  for (std::int64_t i = 0; i < n; ++i) p[i] = v[i];
#endif
}

// The first `count` lanes of v, the rest zero.
inline Vec first_lanes(Vec v, std::int64_t count) {
  return lane_index() < static_cast<std::int32_t>(std::min<std::int64_t>(count, kLanes)) ? v
                                                                                         : Vec{};
}

}  // namespace kiln::nn::simd
