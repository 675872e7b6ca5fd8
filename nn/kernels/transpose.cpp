#include "nn/kernels/transpose.hpp"

#include "nn/kernels/simd.hpp"

namespace kiln::nn {

void transpose(const float* src, std::int64_t rows, std::int64_t cols, std::int64_t src_stride,
               float* dst, std::int64_t dst_stride) {
  constexpr std::int64_t kBlock = simd::kLanes;
  const std::int64_t whole_rows = rows - rows % kBlock, whole_cols = cols - cols % kBlock;
  for (std::int64_t i0 = 0; i0 < whole_rows; i0 += kBlock) {
    for (std::int64_t j0 = 0; j0 < whole_cols; j0 += kBlock) {
      simd::Vec block[kBlock];
      for (std::int64_t r = 0; r < kBlock; ++r)
        block[r] = simd::load(src + (i0 + r) * src_stride + j0);
      simd::transpose16(block);
      for (std::int64_t t = 0; t < kBlock; ++t)
        simd::store(dst + (j0 + t) * dst_stride + i0, block[t]);
    }
  }
  // The right edge of the whole-block rows, then the rows below them.
  for (std::int64_t i = 0; i < whole_rows; ++i) {
    for (std::int64_t j = whole_cols; j < cols; ++j)
      dst[j * dst_stride + i] = src[i * src_stride + j];
  }
  for (std::int64_t i = whole_rows; i < rows; ++i) {
    for (std::int64_t j = 0; j < cols; ++j) dst[j * dst_stride + i] = src[i * src_stride + j];
  }
}

}  // namespace kiln::nn
