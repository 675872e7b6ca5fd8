#include "nn/kernels/parallel_gemm.hpp"

#include <algorithm>

#include "nn/parallel.hpp"

namespace kiln::nn {

void parallel_gemm(std::int64_t m, std::int64_t n, std::int64_t k, StridedMatrix a, const float* b,
                   std::int64_t ldb, float* c, std::int64_t ldc, bool accumulate) {
  if (m <= 0 || n <= 0) return;
  const std::int64_t row_blocks = (m + kBlockRows - 1) / kBlockRows;
  const std::int64_t col_blocks = (n + kBlockCols - 1) / kBlockCols;
  parallel_chunks(row_blocks * col_blocks, 1, [&](std::int64_t first, std::int64_t last) {
    for (std::int64_t block = first; block < last; ++block) {
      const std::int64_t i0 = block / col_blocks * kBlockRows;
      const std::int64_t j0 = block % col_blocks * kBlockCols;
      const std::int64_t rows = std::min(kBlockRows, m - i0);
      const std::int64_t cols = std::min(kBlockCols, n - j0);
      gemm(rows, cols, k, {a.data + i0 * a.row_stride, a.row_stride, a.col_stride}, b + j0, ldb,
           c + i0 * ldc + j0, ldc, accumulate);
    }
  });
}

}  // namespace kiln::nn
