#include <gtest/gtest.h>

#include <vector>

#include "nn/kernels/transpose.hpp"

namespace kiln::nn {
namespace {

TEST(Transpose, MatchesTheDefinitionOnBlocksEdgesAndStrides) {
  // Whole 16 × 16 blocks only, blocks with right and bottom edges, edges only; both matrices
  // with padding past their rows, which must stay untouched.
  const std::pair<std::int64_t, std::int64_t> shapes[] = {{16, 16}, {32, 48}, {37, 21},
                                                          {5, 40},  {40, 5},  {1, 1}};
  for (const auto& [rows, cols] : shapes) {
    const std::int64_t src_stride = cols + 3, dst_stride = rows + 5;
    std::vector<float> src(static_cast<std::size_t>(rows * src_stride));
    for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i);
    std::vector<float> dst(static_cast<std::size_t>(cols * dst_stride), -1.f);
    transpose(src.data(), rows, cols, src_stride, dst.data(), dst_stride);
    for (std::int64_t j = 0; j < cols; ++j) {
      for (std::int64_t i = 0; i < dst_stride; ++i) {
        const float want = i < rows ? src[i * src_stride + j] : -1.f;
        ASSERT_EQ(dst[j * dst_stride + i], want) << rows << "x" << cols << " at " << j << ", " << i;
      }
    }
  }
}

}  // namespace
}  // namespace kiln::nn
