#include "nn/kernels/gemm.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <type_traits>
#include <utility>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

namespace kiln::nn {

void gemm_portable(std::int64_t m, std::int64_t n, std::int64_t k, StridedMatrix a, const float* b,
                   std::int64_t ldb, float* c, std::int64_t ldc, bool accumulate) {
  using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using AnyStride = Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>;
  const Eigen::Map<const RowMatrix, 0, AnyStride> as(a.data, m, k,
                                                     AnyStride(a.row_stride, a.col_stride));
  const Eigen::Map<const RowMatrix, 0, Eigen::OuterStride<>> bs(b, k, n, Eigen::OuterStride<>(ldb));
  Eigen::Map<RowMatrix, 0, Eigen::OuterStride<>> cs(c, m, n, Eigen::OuterStride<>(ldc));
  if (accumulate) {
    cs.noalias() += as * bs;
  } else {
    cs.noalias() = as * bs;
  }
}

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#define KILN_GEMM_OWN_KERNEL 1
#endif

#ifdef KILN_GEMM_OWN_KERNEL
namespace {

// The vector instructions one register tile is written in, per instruction set. A tile is kRows
// rows × two vectors; its 2·kRows accumulators, two vectors of B and one broadcast of A fill the
// register file (32 zmm: 12 rows; 16 ymm: 6 rows). 12 rows measured faster than 8 or 14 on the
// dense layers' shapes with AVX-512. Masked lanes of B read as 0 and are neither read nor
// written in C, and masked loads never fault.
#ifdef __AVX512F__
struct Isa {
  using Vec = __m512;
  using Mask = __mmask16;
  static constexpr std::int64_t kWidth = 16;
  static constexpr std::int64_t kRows = 12;
  static Mask first_lanes(std::int64_t count) {
    const auto lanes = static_cast<unsigned>(std::clamp<std::int64_t>(count, 0, kWidth));
    return static_cast<Mask>((1u << lanes) - 1u);
  }
  static Vec zero() { return _mm512_setzero_ps(); }
  static Vec broadcast(float x) { return _mm512_set1_ps(x); }
  static Vec load(const float* p) { return _mm512_loadu_ps(p); }
  static Vec load(Mask mask, const float* p) { return _mm512_maskz_loadu_ps(mask, p); }
  static void store(float* p, Mask mask, Vec v) { _mm512_mask_storeu_ps(p, mask, v); }
  static Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
};
#else
struct Isa {
  using Vec = __m256;
  using Mask = __m256i;
  static constexpr std::int64_t kWidth = 8;
  static constexpr std::int64_t kRows = 6;
  static Mask first_lanes(std::int64_t count) {
    const auto lanes = static_cast<int>(std::clamp<std::int64_t>(count, 0, kWidth));
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static Vec zero() { return _mm256_setzero_ps(); }
  static Vec broadcast(float x) { return _mm256_set1_ps(x); }
  static Vec load(const float* p) { return _mm256_loadu_ps(p); }
  static Vec load(Mask mask, const float* p) { return _mm256_maskload_ps(p, mask); }
  static void store(float* p, Mask mask, Vec v) { _mm256_maskstore_ps(p, mask, v); }
  static Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
};
#endif

constexpr std::int64_t kTileRows = Isa::kRows;
constexpr std::int64_t kTileCols = 2 * Isa::kWidth;
// Depth per pass: the 256-deep slice of B a column of tiles shares (32 KB with AVX-512) stays
// in L1.
constexpr std::int64_t kDepthBlock = 256;

// One tile: C[i][j] = (from_c ? C[i][j] : 0) + Σ_p A(i, p)·B[p][j] for i < kRows and
// j < min(columns, kTileCols) (the rest of the two vectors masked). A(i, p) is
// a[i·a_stride + p] with kRowsOfA (A as it is, rows contiguous) or a[p·a_stride + i] without
// (Aᵀ contiguous).
template <int kRows, bool kRowsOfA>
void multiply_tile(std::int64_t depth, const float* a, std::int64_t a_stride, const float* b,
                   std::int64_t ldb, float* c, std::int64_t ldc, std::int64_t columns,
                   bool from_c) {
  constexpr std::int64_t kHigh = Isa::kWidth;  // offset of the second vector
  const Isa::Mask low = Isa::first_lanes(columns), high = Isa::first_lanes(columns - kHigh);
  // Every loop over the tile's rows is unrolled outright (the pragmas), so acc becomes 2·kRows
  // registers; left to the compiler's later unrolling, acc stays an array in memory and every
  // step stores all of it.
  Isa::Vec acc[kRows][2];
#pragma GCC unroll 16
  for (int i = 0; i < kRows; ++i) {
    acc[i][0] = from_c ? Isa::load(low, c + i * ldc) : Isa::zero();
    acc[i][1] = from_c ? Isa::load(high, c + i * ldc + kHigh) : Isa::zero();
  }
  // The depth loop, with B read whole or masked (AVX2's masked loads are slower than plain ones).
  auto multiply = [&](auto whole) {
    for (std::int64_t p = 0; p < depth; ++p) {
      const float* b_p = b + p * ldb;
      const Isa::Vec b_low = whole ? Isa::load(b_p) : Isa::load(low, b_p);
      const Isa::Vec b_high = whole ? Isa::load(b_p + kHigh) : Isa::load(high, b_p + kHigh);
#pragma GCC unroll 16
      for (int i = 0; i < kRows; ++i) {
        const Isa::Vec a_ip = Isa::broadcast(kRowsOfA ? a[i * a_stride + p] : a[p * a_stride + i]);
        acc[i][0] = Isa::fma(a_ip, b_low, acc[i][0]);
        acc[i][1] = Isa::fma(a_ip, b_high, acc[i][1]);
      }
    }
  };
  if (columns >= kTileCols) {
    multiply(std::true_type{});
  } else {
    multiply(std::false_type{});
  }
#pragma GCC unroll 16
  for (int i = 0; i < kRows; ++i) {
    Isa::store(c + i * ldc, low, acc[i][0]);
    Isa::store(c + i * ldc + kHigh, high, acc[i][1]);
  }
}

// (The masks are made inside: a vector type in this signature would make GCC warn, in
// std::array's template argument, that it drops the type's attributes.)
using TileFunction = void (*)(std::int64_t, const float*, std::int64_t, const float*, std::int64_t,
                              float*, std::int64_t, std::int64_t, bool);

// multiply_tile<r, ...> at index r - 1, for the last rows of C when m is not a multiple of
// kTileRows.
template <bool kRowsOfA, std::size_t... kIndex>
constexpr std::array<TileFunction, sizeof...(kIndex)> tile_functions(
    std::index_sequence<kIndex...>) {
  return {&multiply_tile<static_cast<int>(kIndex) + 1, kRowsOfA>...};
}
constexpr auto kTilesReadingRows = tile_functions<true>(std::make_index_sequence<kTileRows>());
constexpr auto kTilesReadingColumns = tile_functions<false>(std::make_index_sequence<kTileRows>());

}  // namespace

void gemm(std::int64_t m, std::int64_t n, std::int64_t k, StridedMatrix a, const float* b,
          std::int64_t ldb, float* c, std::int64_t ldc, bool accumulate) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate) {
      for (std::int64_t i = 0; i < m; ++i) std::fill_n(c + i * ldc, n, 0.f);
    }
    return;
  }
  if (a.col_stride != 1 && a.row_stride != 1) {
    // Neither A nor Aᵀ has contiguous rows: no caller in kiln, and not worth a kernel.
    gemm_portable(m, n, k, a, b, ldb, c, ldc, accumulate);
    return;
  }
  const bool rows_of_a = a.col_stride == 1;
  const auto& tiles = rows_of_a ? kTilesReadingRows : kTilesReadingColumns;
  const std::int64_t a_stride = rows_of_a ? a.row_stride : a.col_stride;
  for (std::int64_t p0 = 0; p0 < k; p0 += kDepthBlock) {
    const std::int64_t depth = std::min(kDepthBlock, k - p0);
    const bool from_c = accumulate || p0 > 0;
    for (std::int64_t j0 = 0; j0 < n; j0 += kTileCols) {
      for (std::int64_t i0 = 0; i0 < m; i0 += kTileRows) {
        const std::int64_t rows = std::min(kTileRows, m - i0);
        tiles[rows - 1](depth, a.data + i0 * a.row_stride + p0 * a.col_stride, a_stride,
                        b + p0 * ldb + j0, ldb, c + i0 * ldc + j0, ldc, n - j0, from_c);
      }
    }
  }
}

bool gemm_has_own_kernel() { return true; }
#ifdef __AVX512F__
const char* gemm_kernel_name() { return "kiln's AVX-512 GEMM"; }
#else
const char* gemm_kernel_name() { return "kiln's AVX2 GEMM"; }
#endif

#else

bool gemm_has_own_kernel() { return false; }
const char* gemm_kernel_name() { return "Eigen's GEMM (this build has neither AVX-512 nor AVX2)"; }

void gemm(std::int64_t m, std::int64_t n, std::int64_t k, StridedMatrix a, const float* b,
          std::int64_t ldb, float* c, std::int64_t ldc, bool accumulate) {
  gemm_portable(m, n, k, a, b, ldb, c, ldc, accumulate);
}

#endif

}  // namespace kiln::nn
