#include "nn/layers/conv/winograd.hpp"

#include <algorithm>
#include <functional>

#include "nn/kernels/aligned_vector.hpp"
#include "nn/kernels/gemm.hpp"
#include "nn/kernels/simd.hpp"
#include "nn/kernels/transpose.hpp"
#include "nn/parallel.hpp"

namespace kiln::nn {
namespace {

constexpr std::int64_t kP = WinogradConv3x3::kPositions;
// Tiles per GEMM the grouping aims at: 256 keeps V and M (16 × channels × tiles floats each) near
// L2-sized for 32-64 channels while the GEMMs are still wide enough to run near peak.
constexpr std::int64_t kTargetTiles = 256;
// Channels (or filters) per task in the batch passes' transforms, and kernels per task in the
// weight transforms: every element is computed alone, so the split changes no value.
constexpr std::int64_t kChannelChunk = 16;
constexpr std::int64_t kKernelChunk = 4096;

// The transforms run 16 tiles at a time in 16-lane vectors (nn/kernels/simd.hpp): without the scalar
// remainder loops autovectorization leaves, which dominate here because a tile row holds only
// 7-15 tiles. Loops round the tile count up to whole vectors. The surplus lanes read padding or
// neighbouring data; where they write, either nothing valid is written after them (the strides
// below leave room) or they are zeroed first. A tile's four columns 2t..2t+3 are split from whole
// rows in registers (`evens`, `odds`) and results are interleaved back the same way, so every
// memory access is a whole vector.
using simd::evens;
using simd::first_lanes;
using simd::interleave_high;
using simd::interleave_low;
using simd::kLanes;
using simd::load;
using simd::odds;
using simd::store;
using simd::Vec;
inline std::int64_t round_up(std::int64_t n) { return (n + kLanes - 1) / kLanes * kLanes; }

// Stores v, or only its first `count` lanes where count < kLanes: the lanes left before the end
// of the rows a call writes, past which another task's rows begin in the batch passes.
inline void store_tiles(float* p, Vec v, std::int64_t count) {
  if (count >= kLanes) {
    store(p, v);
  } else {
    simd::store_first(p, v, count);
  }
}

// G (4×3) applied along one axis: u = G g.
struct KernelTransform {
  float u0, u1, u2, u3;
  KernelTransform(float g0, float g1, float g2)
      : u0(g0), u1(0.5f * (g0 + g1 + g2)), u2(0.5f * (g0 - g1 + g2)), u3(g2) {}
};

}  // namespace

WinogradConv3x3::WinogradConv3x3(const WinogradGeometry& geometry)
    : g_(geometry),
      tiles_y_((geometry.out_h + 1) / 2),
      tiles_x_((geometry.out_w + 1) / 2),
      tiles_(tiles_y_ * tiles_x_),
      padded_h_(2 * tiles_y_ + 2),
      padded_w_(2 * tiles_x_ + 2),
      samples_per_group_(std::max<std::int64_t>(1, kTargetTiles / tiles_)) {}

void WinogradConv3x3::transform_weights(const float* weights, float* u) const {
  const std::int64_t fc = g_.filters * g_.channels;
  parallel_chunks(fc, kKernelChunk, [&](std::int64_t k0, std::int64_t k1) {
    for (std::int64_t k = k0; k < k1; ++k) {
      const float* g = weights + k * 9;
      // Columns of G g (4×3), then G applied to its rows: U = G g Gᵀ.
      const KernelTransform c0(g[0], g[3], g[6]), c1(g[1], g[4], g[7]), c2(g[2], g[5], g[8]);
      const float rows[4][3] = {{c0.u0, c1.u0, c2.u0},
                                {c0.u1, c1.u1, c2.u1},
                                {c0.u2, c1.u2, c2.u2},
                                {c0.u3, c1.u3, c2.u3}};
      for (int i = 0; i < 4; ++i) {
        const KernelTransform r(rows[i][0], rows[i][1], rows[i][2]);
        u[(i * 4 + 0) * fc + k] = r.u0;
        u[(i * 4 + 1) * fc + k] = r.u1;
        u[(i * 4 + 2) * fc + k] = r.u2;
        u[(i * 4 + 3) * fc + k] = r.u3;
      }
    }
  });
}

void WinogradConv3x3::add_weight_gradient(const float* du, float* grad) const {
  const std::int64_t fc = g_.filters * g_.channels;
  // Gᵀ along one axis: (g0, g1, g2) = (u0 + ½u1 + ½u2, ½u1 − ½u2, ½u1 + ½u2 + u3).
  auto back = [](float u0, float u1, float u2, float u3, float* g, std::int64_t stride) {
    g[0] = u0 + 0.5f * (u1 + u2);
    g[stride] = 0.5f * (u1 - u2);
    g[2 * stride] = 0.5f * (u1 + u2) + u3;
  };
  parallel_chunks(fc, kKernelChunk, [&](std::int64_t k0, std::int64_t k1) {
    for (std::int64_t k = k0; k < k1; ++k) {
      float rows[4][3];  // Gᵀ applied along j for every i
      for (int i = 0; i < 4; ++i) {
        const float* d = du + i * 4 * fc + k;
        back(d[0], d[fc], d[2 * fc], d[3 * fc], rows[i], 1);
      }
      float dg[9];
      for (int v = 0; v < 3; ++v) back(rows[0][v], rows[1][v], rows[2][v], rows[3][v], dg + v, 3);
      for (int e = 0; e < 9; ++e) grad[k * 9 + e] += dg[e];
    }
  });
}

// Strides that keep the surplus lanes harmless: V, M, dM and dV are (16, channels or filters,
// tiles) with `position_stride` = channels·tiles + 16. A row of tiles spills up to 15 lanes into
// the rows after it, which the same call writes later (rows are written in order: channel, then
// sample, then tile row); near the end of a call's channels the stores stop at that end
// (store_tiles), since what follows belongs to the next channel range, another task's in the
// batch passes. Loads of a row's last vector read up to 15 lanes past it, into the next row or
// the slack before the next position, and drop them. Planes built here have slack rows or
// columns for the lanes past their last tile.

void WinogradConv3x3::transform_input(const float* x, std::int64_t samples, std::int64_t first,
                                      std::int64_t last, float* v) const {
  const std::int64_t tiles = samples * tiles_;
  const std::int64_t stride = position_stride(g_.channels, samples);
  const std::int64_t plane = g_.height * g_.width;
  const std::int64_t rows = std::min(g_.height, padded_h_ - g_.pad_top);
  const std::int64_t cols = std::min(g_.width, padded_w_ - g_.pad_left);
  // Zero once: every channel writes the same (image) positions, the padding stays zero. The
  // last row's surplus lanes read up to 2·16 + 2 floats past its tiles.
  AlignedVector<float> padded(static_cast<std::size_t>(padded_h_ * padded_w_ + 3 * kLanes), 0.f);
  for (std::int64_t c = first; c < last; ++c) {
    for (std::int64_t s = 0; s < samples; ++s) {
      const float* image = x + (s * g_.channels + c) * plane;
      for (std::int64_t yy = 0; yy < rows; ++yy)
        std::copy_n(image + yy * g_.width, cols,
                    padded.data() + (yy + g_.pad_top) * padded_w_ + g_.pad_left);
      for (std::int64_t ty = 0; ty < tiles_y_; ++ty) {
        const float* r = padded.data() + 2 * ty * padded_w_;
        float* o = v + c * tiles + s * tiles_ + ty * tiles_x_;
        for (std::int64_t tx = 0; tx < tiles_x_; tx += kLanes) {
          Vec h[4][4];  // Bᵀ along each row: (d0 − d2, d1 + d2, d2 − d1, d1 − d3)
          for (int k = 0; k < 4; ++k) {
            const float* row = r + k * padded_w_ + 2 * tx;
            const Vec a = evens(row), b = odds(row), c2 = evens(row + 2), d = odds(row + 2);
            h[k][0] = a - c2;
            h[k][1] = b + c2;
            h[k][2] = c2 - b;
            h[k][3] = b - d;
          }
          const std::int64_t count = last * tiles - (o + tx - v);  // to the range's end
          for (int j = 0; j < 4; ++j) {                            // Bᵀ down each column
            store_tiles(o + (0 * 4 + j) * stride + tx, h[0][j] - h[2][j], count);
            store_tiles(o + (1 * 4 + j) * stride + tx, h[1][j] + h[2][j], count);
            store_tiles(o + (2 * 4 + j) * stride + tx, h[2][j] - h[1][j], count);
            store_tiles(o + (3 * 4 + j) * stride + tx, h[1][j] - h[3][j], count);
          }
        }
      }
    }
  }
}

void WinogradConv3x3::inverse_output(const float* m, std::int64_t samples, std::int64_t first,
                                     std::int64_t last, const float* bias, bool relu,
                                     const ChannelMap* map, float* y) const {
  const std::int64_t tiles = samples * tiles_;
  const std::int64_t stride = position_stride(g_.filters, samples);
  for (std::int64_t f = first; f < last; ++f) {
    const float b = bias ? bias[f] : 0.f;
    // The batch norm after the layer, if applied here: ChannelMap::apply's arithmetic, in vectors.
    const float map_g = map ? map->gamma[f] : 0.f, map_m = map ? map->mean[f] : 0.f;
    const float map_s = map ? map->inv_std[f] : 0.f, map_b = map ? map->beta[f] : 0.f;
    const bool map_relu = map && map->relu;
    for (std::int64_t s = 0; s < samples; ++s) {
      float* plane = y + (s * g_.filters + f) * g_.out_h * g_.out_w;
      for (std::int64_t ty = 0; ty < tiles_y_; ++ty) {
        const float* t = m + f * tiles + s * tiles_ + ty * tiles_x_;
        // The tile row's two output rows; the second is cut off at an odd bottom edge.
        const std::int64_t out_rows = std::min<std::int64_t>(2, g_.out_h - 2 * ty);
        for (std::int64_t tx = 0; tx < tiles_x_; tx += kLanes) {
          Vec a[4][2];  // Aᵀ along each row: (m0 + m1 + m2, m1 − m2 − m3)
          for (int i = 0; i < 4; ++i) {
            const Vec m0 = load(t + (i * 4 + 0) * stride + tx);
            const Vec m1 = load(t + (i * 4 + 1) * stride + tx);
            const Vec m2 = load(t + (i * 4 + 2) * stride + tx);
            const Vec m3 = load(t + (i * 4 + 3) * stride + tx);
            a[i][0] = m0 + m1 + m2;
            a[i][1] = m1 - m2 - m3;
          }
          Vec out[2][2];  // Aᵀ down each column: [output row][even/odd column]
          for (int j = 0; j < 2; ++j) {
            out[0][j] = a[0][j] + a[1][j] + a[2][j] + b;
            out[1][j] = a[1][j] - a[2][j] - a[3][j] + b;
          }
          const std::int64_t columns = g_.out_w - 2 * tx;  // left in this row, from this vector on
          for (std::int64_t i = 0; i < out_rows; ++i) {
            Vec low = interleave_low(out[i][0], out[i][1]);
            Vec high = interleave_high(out[i][0], out[i][1]);
            if (relu) {  // std::max(v, 0): NaN stays NaN, as in the GEMM path
              low = low < 0.f ? Vec{} : low;
              high = high < 0.f ? Vec{} : high;
            }
            if (map) {
              low = map_g * ((low - map_m) * map_s) + map_b;
              high = map_g * ((high - map_m) * map_s) + map_b;
              if (map_relu) {
                low = low < 0.f ? Vec{} : low;
                high = high < 0.f ? Vec{} : high;
              }
            }
            float* row = plane + (2 * ty + i) * g_.out_w + 2 * tx;
            simd::store_first(row, low, columns);
            simd::store_first(row + kLanes, high, columns - kLanes);
          }
        }
      }
    }
  }
}

void WinogradConv3x3::transform_output_gradient(const float* dy, std::int64_t samples,
                                                std::int64_t first, std::int64_t last,
                                                float* dm) const {
  const std::int64_t tiles = samples * tiles_;
  const std::int64_t stride = position_stride(g_.filters, samples);
  // dy on whole tiles: zero past an odd edge; slack for the last row's surplus lanes.
  const std::int64_t row_stride = 2 * tiles_x_;
  AlignedVector<float> full(static_cast<std::size_t>(2 * tiles_y_ * row_stride + 2 * kLanes), 0.f);
  for (std::int64_t f = first; f < last; ++f) {
    for (std::int64_t s = 0; s < samples; ++s) {
      const float* plane = dy + (s * g_.filters + f) * g_.out_h * g_.out_w;
      for (std::int64_t oy = 0; oy < g_.out_h; ++oy)
        std::copy_n(plane + oy * g_.out_w, g_.out_w, full.data() + oy * row_stride);
      for (std::int64_t ty = 0; ty < tiles_y_; ++ty) {
        const float* top = full.data() + 2 * ty * row_stride;
        const float* bottom = top + row_stride;
        float* o = dm + f * tiles + s * tiles_ + ty * tiles_x_;
        for (std::int64_t tx = 0; tx < tiles_x_; tx += kLanes) {
          // A along each row: (y0, y0 + y1, y0 − y1, −y1)
          const Vec t0 = evens(top + 2 * tx), t1 = odds(top + 2 * tx);
          const Vec b0 = evens(bottom + 2 * tx), b1 = odds(bottom + 2 * tx);
          const Vec row0[4] = {t0, t0 + t1, t0 - t1, -t1};
          const Vec row1[4] = {b0, b0 + b1, b0 - b1, -b1};
          const std::int64_t count = last * tiles - (o + tx - dm);  // to the range's end
          for (int j = 0; j < 4; ++j) {                             // A down each column
            store_tiles(o + (0 * 4 + j) * stride + tx, row0[j], count);
            store_tiles(o + (1 * 4 + j) * stride + tx, row0[j] + row1[j], count);
            store_tiles(o + (2 * 4 + j) * stride + tx, row0[j] - row1[j], count);
            store_tiles(o + (3 * 4 + j) * stride + tx, -row1[j], count);
          }
        }
      }
    }
  }
}

void WinogradConv3x3::inverse_input_gradient(const float* dv, std::int64_t samples,
                                             std::int64_t first, std::int64_t last,
                                             float* dx) const {
  const std::int64_t tiles = samples * tiles_;
  const std::int64_t stride = position_stride(g_.channels, samples);
  const std::int64_t plane = g_.height * g_.width;
  const std::int64_t rows = std::min(g_.height, padded_h_ - g_.pad_top);
  const std::int64_t cols = std::min(g_.width, padded_w_ - g_.pad_left);
  // Patches overlap by two columns and two rows: each is added into the padded plane. Rows are
  // wide enough for a last vector's 2·16 + 2 columns (its surplus lanes add zeros).
  const std::int64_t row_stride = 2 * round_up(tiles_x_) + kLanes;
  AlignedVector<float> padded(static_cast<std::size_t>(padded_h_ * row_stride));
  for (std::int64_t c = first; c < last; ++c) {
    for (std::int64_t s = 0; s < samples; ++s) {
      std::fill(padded.begin(), padded.end(), 0.f);
      for (std::int64_t ty = 0; ty < tiles_y_; ++ty) {
        const float* t = dv + c * tiles + s * tiles_ + ty * tiles_x_;
        for (std::int64_t tx = 0; tx < tiles_x_; tx += kLanes) {
          Vec e[4][4];  // B along each row: (v0, v1 − v2 + v3, −v0 + v1 + v2, −v3)
          for (int i = 0; i < 4; ++i) {
            const Vec v0 = load(t + (i * 4 + 0) * stride + tx);
            const Vec v1 = load(t + (i * 4 + 1) * stride + tx);
            const Vec v2 = load(t + (i * 4 + 2) * stride + tx);
            const Vec v3 = load(t + (i * 4 + 3) * stride + tx);
            e[i][0] = first_lanes(v0, tiles_x_ - tx);
            e[i][1] = first_lanes(v1 - v2 + v3, tiles_x_ - tx);
            e[i][2] = first_lanes(-v0 + v1 + v2, tiles_x_ - tx);
            e[i][3] = first_lanes(-v3, tiles_x_ - tx);
          }
          for (int k = 0; k < 4; ++k) {  // B down each column: patch row k, columns j = 0..3
            Vec d[4];
            for (int j = 0; j < 4; ++j) {
              const Vec col[4] = {e[0][j], e[1][j], e[2][j], e[3][j]};
              d[j] = k == 0   ? col[0]
                     : k == 1 ? col[1] - col[2] + col[3]
                     : k == 2 ? -col[0] + col[1] + col[2]
                              : -col[3];
            }
            float* row = padded.data() + (2 * ty + k) * row_stride + 2 * tx;
            // columns 2t, 2t+1 of every tile, then 2t+2, 2t+3 (overlapping the next tile's)
            store(row, load(row) + interleave_low(d[0], d[1]));
            store(row + kLanes, load(row + kLanes) + interleave_high(d[0], d[1]));
            store(row + 2, load(row + 2) + interleave_low(d[2], d[3]));
            store(row + 2 + kLanes, load(row + 2 + kLanes) + interleave_high(d[2], d[3]));
          }
        }
      }
      float* image = dx + (s * g_.channels + c) * plane;
      for (std::int64_t yy = 0; yy < rows; ++yy)
        std::copy_n(padded.data() + (yy + g_.pad_top) * row_stride + g_.pad_left, cols,
                    image + yy * g_.width);
    }
  }
}

void WinogradConv3x3::forward(const float* x, std::int64_t samples, const float* u,
                              const float* bias, bool relu, const ChannelMap* map, float* y) const {
  forward_pass(x, samples, u, bias, relu, map, y, false);
}

void WinogradConv3x3::backward(const float* x, const float* dy, std::int64_t samples,
                               const float* u, float* du, float* dx) const {
  backward_pass(x, dy, samples, u, du, dx, false);
}

void WinogradConv3x3::forward_batch(const float* x, std::int64_t samples, const float* u,
                                    const float* bias, bool relu, const ChannelMap* map,
                                    float* y) const {
  forward_pass(x, samples, u, bias, relu, map, y, true);
}

void WinogradConv3x3::backward_batch(const float* x, const float* dy, std::int64_t samples,
                                     const float* u, float* du, float* dx) const {
  backward_pass(x, dy, samples, u, du, dx, true);
}

namespace {

// body(begin, end) over [0, n): at once (a group's pass, already inside its caller's task), or
// in parallel chunks of `chunk` (the batch passes). Every element is computed alone either way.
void split(std::int64_t n, std::int64_t chunk, bool parallel,
           const std::function<void(std::int64_t, std::int64_t)>& body) {
  if (parallel) {
    parallel_chunks(n, chunk, body);
  } else {
    body(0, n);
  }
}

}  // namespace

void WinogradConv3x3::forward_pass(const float* x, std::int64_t samples, const float* u,
                                   const float* bias, bool relu, const ChannelMap* map, float* y,
                                   bool parallel) const {
  const std::int64_t tiles = samples * tiles_;
  const std::int64_t f = g_.filters, c = g_.channels;
  const std::int64_t v_stride = position_stride(c, samples), m_stride = position_stride(f, samples);
  ScratchVector<float> v(static_cast<std::size_t>(kP * v_stride));
  ScratchVector<float> m(static_cast<std::size_t>(kP * m_stride));
  split(c, kChannelChunk, parallel,
        [&](std::int64_t c0, std::int64_t c1) { transform_input(x, samples, c0, c1, v.data()); });
  split(kP, 1, parallel, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {  // M_p (F, tiles) = U_p (F, C) · V_p (C, tiles)
      gemm(f, tiles, c, {u + p * f * c, c, 1}, v.data() + p * v_stride, tiles,
           m.data() + p * m_stride, tiles, false);
    }
  });
  split(f, kChannelChunk, parallel, [&](std::int64_t f0, std::int64_t f1) {
    inverse_output(m.data(), samples, f0, f1, bias, relu, map, y);
  });
}

void WinogradConv3x3::backward_pass(const float* x, const float* dy, std::int64_t samples,
                                    const float* u, float* du, float* dx, bool parallel) const {
  const std::int64_t tiles = samples * tiles_;
  const std::int64_t f = g_.filters, c = g_.channels;
  const std::int64_t v_stride = position_stride(c, samples), m_stride = position_stride(f, samples);
  ScratchVector<float> v(static_cast<std::size_t>(kP * v_stride));
  ScratchVector<float> dm(static_cast<std::size_t>(kP * m_stride));
  split(c, kChannelChunk, parallel,
        [&](std::int64_t c0, std::int64_t c1) { transform_input(x, samples, c0, c1, v.data()); });
  split(f, kChannelChunk, parallel, [&](std::int64_t f0, std::int64_t f1) {
    transform_output_gradient(dy, samples, f0, f1, dm.data());
  });
  split(kP, 1, parallel, [&](std::int64_t p0, std::int64_t p1) {
    // dU_p (F, C) += dM_p (F, tiles) · V_pᵀ. gemm reads B by rows, so V_p is transposed first.
    ScratchVector<float> v_transposed(static_cast<std::size_t>(tiles * c));
    for (std::int64_t p = p0; p < p1; ++p) {
      transpose(v.data() + p * v_stride, c, tiles, tiles, v_transposed.data(), c);
      gemm(f, c, tiles, {dm.data() + p * m_stride, tiles, 1}, v_transposed.data(), c,
           du + p * f * c, c, true);
    }
  });
  if (!dx) return;
  float* dv = v.data();  // every dU product has read V: reuse it for dV
  split(kP, 1, parallel, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {  // dV_p (C, tiles) = U_pᵀ (C, F) · dM_p (F, tiles)
      gemm(c, tiles, f, {u + p * f * c, 1, c}, dm.data() + p * m_stride, tiles, dv + p * v_stride,
           tiles, false);
    }
  });
  split(c, kChannelChunk, parallel,
        [&](std::int64_t c0, std::int64_t c1) { inverse_input_gradient(dv, samples, c0, c1, dx); });
}

}  // namespace kiln::nn
