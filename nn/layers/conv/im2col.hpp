// Lowering a convolution's input to a matrix of patches (im2col) and its transpose's scatter back
// (col2im), shared by conv2d's GEMM paths.
//   col[(c·KH + i)·KW + j][oy·OW + ox] = x[c, oy·sh − pt + i·dh, ox·sw − pl + j·dw]
// (zero where the position falls outside the image); col2im_add adds each entry back to the pixel
// it was read from. With dilation d the kernel taps sit d pixels apart (Yu & Koltun 2016, PyTorch's
// and ONNX's `dilations`); the window it spans is (k − 1)·d + 1 wide.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "nn/layers/window.hpp"

namespace kiln::nn {

struct PatchGeometry {
  std::int64_t channels = 0, height = 0, width = 0;  // the input planes lowered
  Size2 kernel, strides, dilation;
  Window1d rows, cols;  // output positions and padding along H and W

  std::int64_t patch_size() const { return channels * kernel.h * kernel.w; }
  std::int64_t output_pixels() const { return rows.out * cols.out; }
};

// The span of a kernel of `size` taps `dilation` apart: what window_1d must fit.
inline std::int64_t dilated_extent(std::int64_t size, std::int64_t dilation) {
  return (size - 1) * dilation + 1;
}

// For a kernel tap `offset` pixels into its window, the output columns whose input column
// ox·stride − pad + offset lies inside an input of `in` columns: [first, last). Outside them the
// tap reads padding.
std::pair<std::int64_t, std::int64_t> tap_output_range(std::int64_t offset, std::int64_t stride,
                                                       std::int64_t pad, std::int64_t in,
                                                       std::int64_t out);

// col (patch_size, output_pixels): row r of the patches at col + r·col_stride.
void im2col(const PatchGeometry& g, const float* x_chw, float* col, std::int64_t col_stride);
// dx_chw[pixel] += every col entry read from that pixel.
void col2im_add(const PatchGeometry& g, const float* col, std::int64_t col_stride, float* dx_chw);

// The same two maps through a table, for small outputs: where each entry of one channel's
// KH·KW patch rows reads from (a pixel of its plane, or padding), worked out once per geometry.
// im2col walks output rows and calls a copy and two fills per row and tap, which on rows of 2 to
// 8 pixels costs more than the copying (resnet18's 4×4 and 2×2 outputs at 64 px: 11% of a
// training step in im2col). The values are the same: both copy, and add in the same order.
class PatchTable {
 public:
  PatchTable() = default;
  explicit PatchTable(const PatchGeometry& g);

  bool empty() const { return source_.empty(); }
  void im2col(const float* x_chw, float* col, std::int64_t col_stride) const;
  void col2im_add(const float* col, std::int64_t col_stride, float* dx_chw) const;

 private:
  std::int64_t channels_ = 0, plane_ = 0, taps_ = 0, pixels_ = 0;
  std::vector<std::int32_t> source_;  // (KH·KW, OH·OW): offset in the plane, or -1 for padding
};

}  // namespace kiln::nn
