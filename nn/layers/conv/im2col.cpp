#include "nn/layers/conv/im2col.hpp"

#include <algorithm>
#include <utility>

namespace kiln::nn {

std::pair<std::int64_t, std::int64_t> tap_output_range(std::int64_t offset, std::int64_t stride,
                                                       std::int64_t pad, std::int64_t in,
                                                       std::int64_t out) {
  // ox·s − pad + offset >= 0  ⇔  ox >= ceil((pad − offset) / s);
  // ox·s − pad + offset < in  ⇔  ox <  ceil((in + pad − offset) / s)
  auto ceil_div = [](std::int64_t a, std::int64_t b) {
    return a >= 0 ? (a + b - 1) / b : -((-a) / b);
  };
  const std::int64_t first = std::clamp<std::int64_t>(ceil_div(pad - offset, stride), 0, out);
  const std::int64_t last =
      std::clamp<std::int64_t>(ceil_div(in + pad - offset, stride), first, out);
  return {first, last};
}

void im2col(const PatchGeometry& g, const float* x, float* col, std::int64_t col_stride) {
  const std::int64_t sh = g.strides.h, sw = g.strides.w;
  const std::int64_t oh = g.rows.out, ow = g.cols.out;
  for (std::int64_t c = 0; c < g.channels; ++c) {
    const float* plane = x + c * g.height * g.width;
    for (std::int64_t i = 0; i < g.kernel.h; ++i) {
      for (std::int64_t j = 0; j < g.kernel.w; ++j) {
        float* out = col + ((c * g.kernel.h + i) * g.kernel.w + j) * col_stride;
        const std::int64_t dj = j * g.dilation.w;
        const auto [first, last] = tap_output_range(dj, sw, g.cols.pad_before, g.width, ow);
        for (std::int64_t oy = 0; oy < oh; ++oy) {
          const std::int64_t y = oy * sh - g.rows.pad_before + i * g.dilation.h;
          float* row = out + oy * ow;
          if (y < 0 || y >= g.height) {
            std::fill(row, row + ow, 0.f);
            continue;
          }
          std::fill(row, row + first, 0.f);
          const float* src = plane + y * g.width + first * sw - g.cols.pad_before + dj;
          if (sw == 1) {
            std::copy(src, src + (last - first), row + first);
          } else {
            for (std::int64_t ox = first; ox < last; ++ox) row[ox] = src[(ox - first) * sw];
          }
          std::fill(row + last, row + ow, 0.f);
        }
      }
    }
  }
}

void col2im_add(const PatchGeometry& g, const float* col, std::int64_t col_stride, float* dx) {
  const std::int64_t sh = g.strides.h, sw = g.strides.w;
  const std::int64_t oh = g.rows.out, ow = g.cols.out;
  for (std::int64_t c = 0; c < g.channels; ++c) {
    float* plane = dx + c * g.height * g.width;
    for (std::int64_t i = 0; i < g.kernel.h; ++i) {
      for (std::int64_t j = 0; j < g.kernel.w; ++j) {
        const float* in = col + ((c * g.kernel.h + i) * g.kernel.w + j) * col_stride;
        const std::int64_t dj = j * g.dilation.w;
        const auto [first, last] = tap_output_range(dj, sw, g.cols.pad_before, g.width, ow);
        for (std::int64_t oy = 0; oy < oh; ++oy) {
          const std::int64_t y = oy * sh - g.rows.pad_before + i * g.dilation.h;
          if (y < 0 || y >= g.height) continue;
          float* dst = plane + y * g.width + first * sw - g.cols.pad_before + dj;
          const float* row = in + oy * ow;
          for (std::int64_t ox = first; ox < last; ++ox) dst[(ox - first) * sw] += row[ox];
        }
      }
    }
  }
}

}  // namespace kiln::nn
