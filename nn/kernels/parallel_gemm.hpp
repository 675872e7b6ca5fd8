// parallel_gemm: gemm (nn/kernels/gemm.hpp) with C cut into blocks that run concurrently. The
// blocks are fixed by the shape alone (kBlockRows × kBlockCols), never by the thread count, so
// the result is the same bits with 1 or N threads: with kiln's own kernel every element of C is
// its own chain of fused multiply-adds whatever the block, and with the portable one each block
// is the same call on any thread. Internal to kiln::nn.
#pragma once

#include <cstdint>

#include "nn/kernels/gemm.hpp"

namespace kiln::nn {

// Multiples of the register tile (12 rows × 32 columns with AVX-512, 6 × 16 with AVX2): a block
// is whole tiles but for the matrix's own edge.
inline constexpr std::int64_t kBlockRows = 96;
inline constexpr std::int64_t kBlockCols = 256;

void parallel_gemm(std::int64_t m, std::int64_t n, std::int64_t k, StridedMatrix a, const float* b,
                   std::int64_t ldb, float* c, std::int64_t ldc, bool accumulate);

}  // namespace kiln::nn
