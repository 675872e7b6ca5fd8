#include "nn/layers/conv/depthwise.hpp"

#include <algorithm>
#include <vector>

#include "nn/kernels/lane_sum.hpp"
#include "nn/layers/activations.hpp"
#include "nn/parallel.hpp"

namespace kiln::nn {
namespace {

constexpr std::int64_t kSampleChunk = 4;  // fixed: the gradient sums' order depends on it alone

// Calls visit(out_row, in_row, first, last) for every output row and kernel tap row i whose input
// row lies in the image, and tap column j: output columns [first, last) read input columns
// ox·sw − pl + j·dw, all inside the image.
template <typename Visit>
void for_each_tap(const PatchGeometry& g, std::int64_t i, std::int64_t j, Visit&& visit) {
  const std::int64_t offset = j * g.dilation.w, sw = g.strides.w;
  const auto [first, last] = tap_output_range(offset, sw, g.cols.pad_before, g.width, g.cols.out);
  if (first >= last) return;
  for (std::int64_t oy = 0; oy < g.rows.out; ++oy) {
    const std::int64_t y = oy * g.strides.h - g.rows.pad_before + i * g.dilation.h;
    if (y < 0 || y >= g.height) continue;
    visit(oy, y, first, last, first * sw - g.cols.pad_before + offset);
  }
}

}  // namespace

void depthwise_forward(const PatchGeometry& g, const DepthwiseWeights& w, const Tensor& x,
                       Tensor& y) {
  const std::int64_t n = x.shape().n, filters = g.channels * w.multiplier;
  const std::int64_t in_plane = g.height * g.width, out_plane = g.output_pixels();
  const std::int64_t taps = g.kernel.h * g.kernel.w, sw = g.strides.w, ow = g.cols.out;
  y.resize({n, filters, g.rows.out, g.cols.out});
  parallel_chunks(n * filters, 4, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      const std::int64_t s = p / filters, f = p % filters, c = f / w.multiplier;
      const float* in = x.data() + (s * g.channels + c) * in_plane;
      float* __restrict out = y.data() + p * out_plane;
      std::fill(out, out + out_plane, w.bias ? w.bias[f] : 0.f);
      for (std::int64_t i = 0; i < g.kernel.h; ++i) {
        for (std::int64_t j = 0; j < g.kernel.w; ++j) {
          const float k = w.weight[f * taps + i * g.kernel.w + j];
          for_each_tap(g, i, j,
                       [&](std::int64_t oy, std::int64_t iy, std::int64_t first, std::int64_t last,
                           std::int64_t ix) {
                         float* __restrict row = out + oy * ow;
                         const float* __restrict src = in + iy * g.width + ix;
                         if (sw == 1) {
                           for (std::int64_t ox = first; ox < last; ++ox)
                             row[ox] += k * src[ox - first];
                         } else {
                           for (std::int64_t ox = first; ox < last; ++ox)
                             row[ox] += k * src[(ox - first) * sw];
                         }
                       });
        }
      }
      if (w.relu6) {
        for (std::int64_t e = 0; e < out_plane; ++e) out[e] = std::min(std::max(out[e], 0.f), 6.f);
      } else if (w.relu) {
        for (std::int64_t e = 0; e < out_plane; ++e) out[e] = std::max(out[e], 0.f);
      }
    }
  });
}

void depthwise_backward(const PatchGeometry& g, const DepthwiseWeights& w, const Tensor& x,
                        const Tensor& y, const Tensor& dy, float* weight_grad, float* bias_grad,
                        Tensor* dx) {
  const std::int64_t n = x.shape().n, filters = g.channels * w.multiplier;
  const std::int64_t in_plane = g.height * g.width, out_plane = g.output_pixels();
  const std::int64_t taps = g.kernel.h * g.kernel.w, sw = g.strides.w, ow = g.cols.out;
  const std::int64_t chunks = (n + kSampleChunk - 1) / kSampleChunk, per_chunk = filters * taps;
  if (dx) {
    dx->resize(x.shape());
    dx->fill(0.f);
  }
  // Per chunk: the weight gradient, then the bias gradient; summed below in chunk order.
  std::vector<double> partial(static_cast<std::size_t>(chunks * (per_chunk + filters)), 0.0);
  parallel_chunks(n, kSampleChunk, [&](std::int64_t s0, std::int64_t s1) {
    double* dweight = partial.data() + (s0 / kSampleChunk) * (per_chunk + filters);
    double* dbias = dweight + per_chunk;
    std::vector<float> masked(static_cast<std::size_t>(w.relu ? out_plane : 0));
    for (std::int64_t s = s0; s < s1; ++s) {
      for (std::int64_t f = 0; f < filters; ++f) {
        const std::int64_t c = f / w.multiplier, at = (s * filters + f) * out_plane;
        const float* grad = dy.data() + at;
        if (w.relu) {
          if (w.relu6) {
            relu6_gradient(y.data() + at, grad, out_plane, masked.data());
          } else {
            relu_gradient(y.data() + at, grad, out_plane, masked.data());
          }
          grad = masked.data();
        }
        const float* in = x.data() + (s * g.channels + c) * in_plane;
        float* back = dx ? dx->data() + (s * g.channels + c) * in_plane : nullptr;
        double plane_sum = 0.0;
        for (std::int64_t e = 0; e < out_plane; ++e) plane_sum += grad[e];
        dbias[f] += plane_sum;
        for (std::int64_t i = 0; i < g.kernel.h; ++i) {
          for (std::int64_t j = 0; j < g.kernel.w; ++j) {
            const float k = w.weight[f * taps + i * g.kernel.w + j];
            float tap_sum = 0.f;
            for_each_tap(g, i, j,
                         [&](std::int64_t oy, std::int64_t iy, std::int64_t first,
                             std::int64_t last, std::int64_t ix) {
                           const float* __restrict row = grad + oy * ow;
                           const float* __restrict src = in + iy * g.width + ix;
                           tap_sum += lane_sum_of(last - first, [&](std::int64_t e) {
                             return row[first + e] * src[e * sw];
                           });
                           if (back == nullptr) return;
                           float* __restrict dst = back + iy * g.width + ix;
                           for (std::int64_t ox = first; ox < last; ++ox)
                             dst[(ox - first) * sw] += k * row[ox];
                         });
            dweight[f * taps + i * g.kernel.w + j] += tap_sum;
          }
        }
      }
    }
  });
  for (std::int64_t k = 0; k < chunks; ++k) {
    const double* chunk = partial.data() + k * (per_chunk + filters);
    for (std::int64_t e = 0; e < per_chunk; ++e) weight_grad[e] += static_cast<float>(chunk[e]);
    if (bias_grad)
      for (std::int64_t f = 0; f < filters; ++f)
        bias_grad[f] += static_cast<float>(chunk[per_chunk + f]);
  }
}

}  // namespace kiln::nn
