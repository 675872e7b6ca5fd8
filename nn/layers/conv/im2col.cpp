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

PatchTable::PatchTable(const PatchGeometry& g)
    : channels_(g.channels),
      plane_(g.height * g.width),
      taps_(g.kernel.h * g.kernel.w),
      pixels_(g.output_pixels()) {
  source_.assign(static_cast<std::size_t>(taps_ * pixels_), -1);
  for (std::int64_t i = 0; i < g.kernel.h; ++i) {
    for (std::int64_t j = 0; j < g.kernel.w; ++j) {
      std::int32_t* row = source_.data() + (i * g.kernel.w + j) * pixels_;
      for (std::int64_t oy = 0; oy < g.rows.out; ++oy) {
        const std::int64_t y = oy * g.strides.h - g.rows.pad_before + i * g.dilation.h;
        for (std::int64_t ox = 0; ox < g.cols.out; ++ox) {
          const std::int64_t x = ox * g.strides.w - g.cols.pad_before + j * g.dilation.w;
          if (y >= 0 && y < g.height && x >= 0 && x < g.width)
            row[oy * g.cols.out + ox] = static_cast<std::int32_t>(y * g.width + x);
        }
      }
    }
  }
}

void PatchTable::im2col(const float* x_chw, float* col, std::int64_t col_stride) const {
  for (std::int64_t c = 0; c < channels_; ++c) {
    const float* plane = x_chw + c * plane_;
    for (std::int64_t t = 0; t < taps_; ++t) {
      const std::int32_t* source = source_.data() + t * pixels_;
      float* out = col + (c * taps_ + t) * col_stride;
      for (std::int64_t p = 0; p < pixels_; ++p) out[p] = source[p] >= 0 ? plane[source[p]] : 0.f;
    }
  }
}

void PatchTable::col2im_add(const float* col, std::int64_t col_stride, float* dx_chw) const {
  for (std::int64_t c = 0; c < channels_; ++c) {
    float* plane = dx_chw + c * plane_;
    for (std::int64_t t = 0; t < taps_; ++t) {
      const std::int32_t* source = source_.data() + t * pixels_;
      const float* in = col + (c * taps_ + t) * col_stride;
      for (std::int64_t p = 0; p < pixels_; ++p)
        if (source[p] >= 0) plane[source[p]] += in[p];
    }
  }
}

}  // namespace kiln::nn
