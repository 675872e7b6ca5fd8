// Out-of-place matrix transpose for packing GEMM operands. Internal to kiln::nn.
#pragma once

#include <cstdint>

namespace kiln::nn {

// dst[j·dst_stride + i] = src[i·src_stride + j] for i < rows, j < cols (strides in floats; the
// two matrices must not overlap). Whole 16 × 16 blocks go through registers; the edges, element
// by element. (Element by element throughout, the transpose dense layers pack their weights with
// took a fifth of the mlp's training step: every write lands on another cache line.)
void transpose(const float* src, std::int64_t rows, std::int64_t cols, std::int64_t src_stride,
               float* dst, std::int64_t dst_stride);

}  // namespace kiln::nn
