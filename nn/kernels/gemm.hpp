// Single-precision matrix product for the dense and convolution layers: C = A·B or C += A·B.
// Single-threaded by design: callers split C into fixed parts and run them in parallel
// (nn/parallel.hpp). Internal to kiln::nn.
//
// With AVX-512, or AVX2 with FMA, this is kiln's own kernel: register tiles of 12 × 32 floats
// (AVX-512) or 6 × 16 (AVX2), B read in place, A broadcast in place from either layout (its rows
// contiguous, or its columns: a transposed view). There, every element of C is one chain of
// fused multiply-adds over k = 0, 1, ..., k-1 in order, starting from 0 (or from the element's
// old value with accumulate). So an element's value depends only on its row of A, its column of
// B and its old value — never on m, n, on how the caller splits C, or on the thread count; and
// the K-blocking inside does not round differently from one unblocked loop, because a partial
// sum is parked in C as the same float it was in a register.
//
// Without either (and for an A with neither stride 1) gemm is gemm_portable: Eigen's product,
// whose rounding may depend on the shape of the call. Callers split C at fixed places, so
// results still do not depend on the thread count.
#pragma once

#include <cstdint>

namespace kiln::nn {

// A read-only matrix of floats: element (i, j) is data[i * row_stride + j * col_stride].
// Strides in floats; either may be 1, so a transposed view costs nothing.
struct StridedMatrix {
  const float* data;
  std::int64_t row_stride;
  std::int64_t col_stride;
};

// C (m × n, row i at c + i·ldc) = A (m × k) · B (k × n, row p at b + p·ldb, contiguous), or
// C += A·B with accumulate. k == 0 sets C to zero (or leaves it, with accumulate).
void gemm(std::int64_t m, std::int64_t n, std::int64_t k, StridedMatrix a, const float* b,
          std::int64_t ldb, float* c, std::int64_t ldc, bool accumulate);

// True where gemm runs kiln's own kernel (built for AVX-512 or AVX2 with FMA), whose every
// element is the exact fused multiply-add chain described above; false where it runs
// gemm_portable. gemm_kernel_name says which, for people reading benchmark output.
bool gemm_has_own_kernel();
const char* gemm_kernel_name();

// The same product through Eigen: what gemm runs on a target without AVX-512 or AVX2 (and what
// tests compare it with elsewhere).
void gemm_portable(std::int64_t m, std::int64_t n, std::int64_t k, StridedMatrix a, const float* b,
                   std::int64_t ldb, float* c, std::int64_t ldc, bool accumulate);

}  // namespace kiln::nn
