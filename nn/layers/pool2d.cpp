#include "nn/layers/pool2d.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "nn/kernels/simd.hpp"
#include "nn/layer_options.hpp"
#include "nn/parallel.hpp"

namespace kiln::nn {
namespace {
constexpr std::int64_t kPlaneChunk = 16;  // (sample, channel) planes per task

// The input range [first, last) that output position `o` pools over, clipped to the image (so
// padding never takes part: it cannot win a max and does not count in an average).
std::pair<std::int64_t, std::int64_t> clipped(std::int64_t o, std::int64_t stride, std::int64_t pad,
                                              std::int64_t window, std::int64_t size) {
  const std::int64_t start = o * stride - pad;
  return {std::max<std::int64_t>(start, 0), std::min(start + window, size)};
}

// Max pooling at stride 2 on both axes (Keras' 2×2 default, the ResNets' 3×3 with padding 1):
// the outputs whose windows lie inside the image 16 at a time, the rest one by one. Same values
// and arg-maxes as the general loop in Pool2D::forward: windows scanned row by row, strict >, so
// a NaN never wins and ties go to the first maximum. The general loop runs a dependent
// compare-and-select chain per window (on resnet18's stem at 224 px, 22 ms a step). A vector
// reads 32 floats of a row from a window's column, past the row's end; where that would pass
// `readable_end`, the outputs go one by one.
struct StrideTwoMax {
  std::int64_t height, width, pool_h, pool_w, pad_top, pad_left, out_h, out_w;

  void run(const float* in, const float* readable_end, float* out, std::int32_t* at) const {
    using simd::Vec, simd::Lanes, simd::kLanes;
    for (std::int64_t oy = 0; oy < out_h; ++oy) {
      const auto [y0, y1] = clipped(oy, 2, pad_top, pool_h, height);
      for (std::int64_t ox = 0; ox < out_w;) {
        const std::int64_t o = oy * out_w + ox, left = 2 * ox - pad_left;
        // Outputs from ox on whose windows lie inside the row, at most a vector's worth.
        const std::int64_t count =
            left < 0 ? 0 : std::min({kLanes, out_w - ox, (width - pool_w - left) / 2 + 1});
        const bool readable =
            in + (y1 - 1) * width + left + pool_w - 1 + 2 * kLanes <= readable_end;
        if (count < 2 || !readable) {
          one(in, ox, y0, y1, out + o, at + o);
          ++ox;
          continue;
        }
        Vec best = Vec{} - std::numeric_limits<float>::infinity();
        Lanes best_at = static_cast<std::int32_t>(y0 * width + left) + 2 * simd::lane_index();
        for (std::int64_t yy = y0; yy < y1; ++yy) {
          for (std::int64_t dx = 0; dx < pool_w; ++dx) {
            const std::int64_t first = yy * width + left + dx;
            const Vec v = simd::evens(in + first);
            const Lanes greater = v > best;
            best = greater ? v : best;
            best_at = greater ? static_cast<std::int32_t>(first) + 2 * simd::lane_index() : best_at;
          }
        }
        if (count == kLanes) {
          simd::store(out + o, best);
          simd::store(at + o, best_at);
        } else {  // lanes past `count` pooled windows that leave the row: dropped
          alignas(64) float values[kLanes];
          alignas(64) std::int32_t offsets[kLanes];
          simd::store(values, best);
          simd::store(offsets, best_at);
          std::copy_n(values, count, out + o);
          std::copy_n(offsets, count, at + o);
        }
        ox += count;
      }
    }
  }

  void one(const float* in, std::int64_t ox, std::int64_t y0, std::int64_t y1, float* out,
           std::int32_t* at) const {
    const auto [x0, x1] = clipped(ox, 2, pad_left, pool_w, width);
    float best = -std::numeric_limits<float>::infinity();
    std::int64_t best_at = y0 * width + x0;
    for (std::int64_t yy = y0; yy < y1; ++yy) {
      for (std::int64_t xx = x0; xx < x1; ++xx) {
        if (in[yy * width + xx] > best) {
          best = in[yy * width + xx];
          best_at = yy * width + xx;
        }
      }
    }
    *out = best;
    *at = static_cast<std::int32_t>(best_at);
  }
};
}  // namespace

// max_pool2d / avg_pool2d

Pool2D::Pool2D(PoolKind kind, Pool2DOptions options) : kind_(kind), options_(options) {
  if (options_.pool.h <= 0 || options_.pool.w <= 0)
    throw Error(std::string(type()) + ": pool_size must be > 0");
  if (options_.strides.h <= 0 || options_.strides.w <= 0)
    throw Error(std::string(type()) + ": strides must be > 0");
}

Shape Pool2D::build(const Shape& input) {
  in_ = input.with_n(1);
  rows_ = window_1d(in_.h, options_.pool.h, options_.strides.h, options_.padding, Axis::kHeight);
  cols_ = window_1d(in_.w, options_.pool.w, options_.strides.w, options_.padding, Axis::kWidth);
  if (rows_.out <= 0 || cols_.out <= 0) {
    throw Error(std::string(type()) + ": pool " + std::to_string(options_.pool.h) + "x" +
                std::to_string(options_.pool.w) + " does not fit the input " + input.str());
  }
  return {1, in_.c, rows_.out, cols_.out};
}

void Pool2D::forward(const Tensor& x, Tensor& y, const StepContext& /*ctx*/) {
  const std::int64_t planes = x.shape().n * in_.c;
  const std::int64_t oh = rows_.out, ow = cols_.out, plane_in = in_.h * in_.w;
  y.resize({x.shape().n, in_.c, oh, ow});
  if (kind_ == PoolKind::kMax) argmax_.resize(static_cast<std::size_t>(y.size()));
  if (kind_ == PoolKind::kMax && options_.strides.h == 2 && options_.strides.w == 2) {
    const StrideTwoMax pool{
        in_.h, in_.w, options_.pool.h, options_.pool.w, rows_.pad_before, cols_.pad_before, oh, ow};
    parallel_chunks(planes, kPlaneChunk, [&](std::int64_t p0, std::int64_t p1) {
      for (std::int64_t p = p0; p < p1; ++p)
        pool.run(x.data() + p * plane_in, x.data() + x.size(), y.data() + p * oh * ow,
                 argmax_.data() + p * oh * ow);
    });
    return;
  }
  parallel_chunks(planes, kPlaneChunk, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      const float* in = x.data() + p * plane_in;
      float* out = y.data() + p * oh * ow;
      for (std::int64_t oy = 0; oy < oh; ++oy) {
        const auto [y0, y1] =
            clipped(oy, options_.strides.h, rows_.pad_before, options_.pool.h, in_.h);
        for (std::int64_t ox = 0; ox < ow; ++ox) {
          const auto [x0, x1] =
              clipped(ox, options_.strides.w, cols_.pad_before, options_.pool.w, in_.w);
          const std::int64_t o = oy * ow + ox;
          if (kind_ == PoolKind::kMax) {
            float best = -std::numeric_limits<float>::infinity();
            std::int64_t best_at = y0 * in_.w + x0;
            for (std::int64_t yy = y0; yy < y1; ++yy) {
              for (std::int64_t xx = x0; xx < x1; ++xx) {
                if (in[yy * in_.w + xx] > best) {
                  best = in[yy * in_.w + xx];
                  best_at = yy * in_.w + xx;
                }
              }
            }
            out[o] = best;
            argmax_[static_cast<std::size_t>(p * oh * ow + o)] = static_cast<std::int32_t>(best_at);
          } else {
            float sum = 0.f;
            for (std::int64_t yy = y0; yy < y1; ++yy) {
              for (std::int64_t xx = x0; xx < x1; ++xx) sum += in[yy * in_.w + xx];
            }
            out[o] = sum / static_cast<float>((y1 - y0) * (x1 - x0));
          }
        }
      }
    }
  });
}

void Pool2D::backward(const Tensor& x, const Tensor& /*y*/, const Tensor& dy, Tensor& dx) {
  const std::int64_t planes = x.shape().n * in_.c;
  const std::int64_t oh = rows_.out, ow = cols_.out, plane_in = in_.h * in_.w;
  dx.resize(x.shape());
  parallel_chunks(planes, kPlaneChunk, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      float* din = dx.data() + p * plane_in;
      std::fill(din, din + plane_in, 0.f);
      const float* dout = dy.data() + p * oh * ow;
      if (kind_ == PoolKind::kMax) {
        const std::int32_t* at = argmax_.data() + p * oh * ow;
        for (std::int64_t o = 0; o < oh * ow; ++o) din[at[o]] += dout[o];
        continue;
      }
      for (std::int64_t oy = 0; oy < oh; ++oy) {
        const auto [y0, y1] =
            clipped(oy, options_.strides.h, rows_.pad_before, options_.pool.h, in_.h);
        for (std::int64_t ox = 0; ox < ow; ++ox) {
          const auto [x0, x1] =
              clipped(ox, options_.strides.w, cols_.pad_before, options_.pool.w, in_.w);
          const float share = dout[oy * ow + ox] / static_cast<float>((y1 - y0) * (x1 - x0));
          for (std::int64_t yy = y0; yy < y1; ++yy) {
            for (std::int64_t xx = x0; xx < x1; ++xx) din[yy * in_.w + xx] += share;
          }
        }
      }
    }
  });
}

namespace {

Pool2DOptions pool_options(LayerOptions& o) {
  Pool2DOptions options;
  o.read("pool_size", options.pool);
  options.strides = options.pool;
  o.read("strides", options.strides);
  o.read("padding", options.padding);
  return options;
}

}  // namespace

std::unique_ptr<Layer> Pool2D::max_from_json(LayerOptions& o) {
  return std::make_unique<Pool2D>(PoolKind::kMax, pool_options(o));
}

std::unique_ptr<Layer> Pool2D::average_from_json(LayerOptions& o) {
  return std::make_unique<Pool2D>(PoolKind::kAverage, pool_options(o));
}

Json Pool2D::config() const {
  return {{"pool_size", options_.pool.to_json()},
          {"strides", options_.strides.to_json()},
          {"padding", padding_json(options_.padding)}};
}

// global_avg_pool2d

void GlobalAvgPool2D::forward(const Tensor& x, Tensor& y, const StepContext& /*ctx*/) {
  const Shape& s = x.shape();
  const std::int64_t area = s.h * s.w;
  y.resize({s.n, s.c, 1, 1});
  parallel_chunks(s.n * s.c, 64, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      const float* in = x.data() + p * area;
      float sum = 0.f;
      for (std::int64_t i = 0; i < area; ++i) sum += in[i];
      y[p] = sum / static_cast<float>(area);
    }
  });
}

void GlobalAvgPool2D::backward(const Tensor& x, const Tensor& /*y*/, const Tensor& dy, Tensor& dx) {
  const Shape& s = x.shape();
  const std::int64_t area = s.h * s.w;
  dx.resize(s);
  parallel_chunks(s.n * s.c, 64, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p)
      std::fill(dx.data() + p * area, dx.data() + (p + 1) * area, dy[p] / static_cast<float>(area));
  });
}

// flatten

void Flatten::forward(const Tensor& x, Tensor& y, const StepContext& /*ctx*/) {
  y.resize({x.shape().n, x.shape().per_sample(), 1, 1});
  std::memcpy(y.data(), x.data(), static_cast<std::size_t>(x.size()) * sizeof(float));
}

void Flatten::backward(const Tensor& x, const Tensor& /*y*/, const Tensor& dy, Tensor& dx) {
  dx.resize(x.shape());
  std::memcpy(dx.data(), dy.data(), static_cast<std::size_t>(dy.size()) * sizeof(float));
}

}  // namespace kiln::nn
