#include "nn/gemm.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <utility>

#ifdef __AVX512F__
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

#ifdef __AVX512F__
namespace {

// A register tile is kTileRows × 32 floats: 24 zmm accumulators, plus two for the row of B and
// one for the broadcast element of A, of the 32 registers. 12 rows measured faster than 8 or 14
// on the dense layers' shapes.
constexpr std::int64_t kTileRows = 12;
constexpr std::int64_t kTileCols = 32;
// Depth per pass: the 256 × 32 slice of B a column of tiles shares (32 KB) stays in L1.
constexpr std::int64_t kDepthBlock = 256;

__mmask16 first_lanes_mask(std::int64_t count) {
  const auto lanes = static_cast<unsigned>(std::clamp<std::int64_t>(count, 0, 16));
  return static_cast<__mmask16>((1u << lanes) - 1u);
}

// One tile: C[i][j] = (from_c ? C[i][j] : 0) + Σ_p A(i, p)·B[p][j] for i < kRows and the columns
// whose lanes are set in low (0..15) and high (16..31). A(i, p) is a[i·a_stride + p] with
// kRowsOfA (A as it is, rows contiguous) or a[p·a_stride + i] without (Aᵀ contiguous). Masked-off
// lanes of B read as 0 and are neither read nor written in C.
template <int kRows, bool kRowsOfA>
void multiply_tile(std::int64_t depth, const float* a, std::int64_t a_stride, const float* b,
                   std::int64_t ldb, float* c, std::int64_t ldc, __mmask16 low, __mmask16 high,
                   bool from_c) {
  // Every loop over the tile's rows is unrolled outright (the pragmas), so acc becomes 2·kRows
  // registers; left to the compiler's later unrolling, acc stays an array in memory and every
  // step stores all of it.
  __m512 acc[kRows][2];
#pragma GCC unroll 16
  for (int i = 0; i < kRows; ++i) {
    acc[i][0] = from_c ? _mm512_maskz_loadu_ps(low, c + i * ldc) : _mm512_setzero_ps();
    acc[i][1] = from_c ? _mm512_maskz_loadu_ps(high, c + i * ldc + 16) : _mm512_setzero_ps();
  }
  for (std::int64_t p = 0; p < depth; ++p) {
    const __m512 b_low = _mm512_maskz_loadu_ps(low, b + p * ldb);
    const __m512 b_high = _mm512_maskz_loadu_ps(high, b + p * ldb + 16);
#pragma GCC unroll 16
    for (int i = 0; i < kRows; ++i) {
      const __m512 a_ip = _mm512_set1_ps(kRowsOfA ? a[i * a_stride + p] : a[p * a_stride + i]);
      acc[i][0] = _mm512_fmadd_ps(a_ip, b_low, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(a_ip, b_high, acc[i][1]);
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < kRows; ++i) {
    _mm512_mask_storeu_ps(c + i * ldc, low, acc[i][0]);
    _mm512_mask_storeu_ps(c + i * ldc + 16, high, acc[i][1]);
  }
}

using TileFunction = void (*)(std::int64_t, const float*, std::int64_t, const float*, std::int64_t,
                              float*, std::int64_t, __mmask16, __mmask16, bool);

// multiply_tile<r, ...> at index r - 1, for the last rows of C when m is not a multiple of 12.
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
      const __mmask16 low = first_lanes_mask(n - j0);
      const __mmask16 high = first_lanes_mask(n - j0 - 16);
      for (std::int64_t i0 = 0; i0 < m; i0 += kTileRows) {
        const std::int64_t rows = std::min(kTileRows, m - i0);
        tiles[rows - 1](depth, a.data + i0 * a.row_stride + p0 * a.col_stride, a_stride,
                        b + p0 * ldb + j0, ldb, c + i0 * ldc + j0, ldc, low, high, from_c);
      }
    }
  }
}

bool gemm_has_own_kernel() { return true; }

#else

bool gemm_has_own_kernel() { return false; }

void gemm(std::int64_t m, std::int64_t n, std::int64_t k, StridedMatrix a, const float* b,
          std::int64_t ldb, float* c, std::int64_t ldc, bool accumulate) {
  gemm_portable(m, n, k, a, b, ldb, c, ldc, accumulate);
}

#endif

}  // namespace kiln::nn
