#include "nn/layers/winograd.hpp"

#include <Eigen/Core>
#include <algorithm>

namespace kiln::nn {
namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixMap = Eigen::Map<RowMatrix>;
using ConstMatrixMap = Eigen::Map<const RowMatrix>;

constexpr std::int64_t kP = WinogradConv3x3::kPositions;
// Tiles per GEMM the grouping aims at: 256 keeps V and M (16 × channels × tiles floats each) near
// L2-sized for 32-64 channels while the GEMMs are still wide enough to run near peak.
constexpr std::int64_t kTargetTiles = 256;

// The transforms run 16 tiles at a time in GCC vector types: portable (the compiler lowers them to
// whatever the target has), and without the scalar remainder loops autovectorization leaves, which
// dominate here because a tile row holds only 7-15 tiles. Loops round the tile count up to whole
// vectors; the surplus lanes read padding or neighbouring data and write where nothing valid is
// written after them (see the strides below), and nobody reads what they write.
using Vec = float __attribute__((vector_size(64)));
constexpr std::int64_t kLanes = 16;

inline Vec load(const float* p) {
  Vec v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, Vec v) { __builtin_memcpy(p, &v, sizeof v); }
inline std::int64_t round_up(std::int64_t n) { return (n + kLanes - 1) / kLanes * kLanes; }

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
      in_half_(round_up(tiles_x_ + 1)),
      out_half_(round_up(tiles_x_)),
      samples_per_group_(std::max<std::int64_t>(1, kTargetTiles / tiles_)) {}

void WinogradConv3x3::transform_weights(const float* weights, float* u) const {
  const std::int64_t fc = g_.filters * g_.channels;
  for (std::int64_t k = 0; k < fc; ++k) {
    const float* g = weights + k * 9;
    // Columns of G g (4×3), then G applied to its rows: U = G g Gᵀ.
    const KernelTransform c0(g[0], g[3], g[6]), c1(g[1], g[4], g[7]), c2(g[2], g[5], g[8]);
    const float rows[4][3] = {
        {c0.u0, c1.u0, c2.u0}, {c0.u1, c1.u1, c2.u1}, {c0.u2, c1.u2, c2.u2}, {c0.u3, c1.u3, c2.u3}};
    for (int i = 0; i < 4; ++i) {
      const KernelTransform r(rows[i][0], rows[i][1], rows[i][2]);
      u[(i * 4 + 0) * fc + k] = r.u0;
      u[(i * 4 + 1) * fc + k] = r.u1;
      u[(i * 4 + 2) * fc + k] = r.u2;
      u[(i * 4 + 3) * fc + k] = r.u3;
    }
  }
}

void WinogradConv3x3::add_weight_gradient(const float* du, float* grad) const {
  const std::int64_t fc = g_.filters * g_.channels;
  // Gᵀ along one axis: (g0, g1, g2) = (u0 + ½u1 + ½u2, ½u1 − ½u2, ½u1 + ½u2 + u3).
  auto back = [](float u0, float u1, float u2, float u3, float* g, std::int64_t stride) {
    g[0] = u0 + 0.5f * (u1 + u2);
    g[stride] = 0.5f * (u1 - u2);
    g[2 * stride] = 0.5f * (u1 + u2) + u3;
  };
  for (std::int64_t k = 0; k < fc; ++k) {
    float rows[4][3];  // Gᵀ applied along j for every i
    for (int i = 0; i < 4; ++i) {
      const float* d = du + i * 4 * fc + k;
      back(d[0], d[fc], d[2 * fc], d[3 * fc], rows[i], 1);
    }
    float dg[9];
    for (int v = 0; v < 3; ++v) back(rows[0][v], rows[1][v], rows[2][v], rows[3][v], dg + v, 3);
    for (int e = 0; e < 9; ++e) grad[k * 9 + e] += dg[e];
  }
}

namespace {

// Rows are kept split into even and odd columns (a "split row": the evens, then the odds at
// +half). A tile's columns 2t, 2t+1, 2t+2, 2t+3 are then even[t], odd[t], even[t+1], odd[t+1]:
// unit-stride vectors over t. The interleaving is done once per row, here.
void split_row(const float* __restrict src, std::int64_t count, std::int64_t offset,
               float* __restrict even, float* __restrict odd) {
  // Column x lands at position x + offset: even positions from x = offset % 2 on.
  const std::int64_t first_even = offset & 1, first_odd = 1 - first_even;
  float* e = even + (first_even + offset) / 2;
  float* o = odd + (first_odd + offset) / 2;
  for (std::int64_t x = first_even, k = 0; x < count; x += 2, ++k) e[k] = src[x];
  for (std::int64_t x = first_odd, k = 0; x < count; x += 2, ++k) o[k] = src[x];
}

// dst[x] = the split row's position x + offset, for x < count.
void join_row(const float* __restrict even, const float* __restrict odd, std::int64_t offset,
              std::int64_t count, float* __restrict dst) {
  const std::int64_t first_even = offset & 1, first_odd = 1 - first_even;
  const float* e = even + (first_even + offset) / 2;
  const float* o = odd + (first_odd + offset) / 2;
  for (std::int64_t x = first_even, k = 0; x < count; x += 2, ++k) dst[x] = e[k];
  for (std::int64_t x = first_odd, k = 0; x < count; x += 2, ++k) dst[x] = o[k];
}

}  // namespace

// Strides that keep the surplus lanes harmless:
// - V, M, dM and dV are (16, channels or filters, tiles) with `position_stride_` = channels·tiles
//   + 16: a row of tiles spills up to 15 lanes into the next row, which is written later (rows are
//   written in order: channel, then sample, then tile row), and the last row of a position into
//   the slack before the next position.
// - split rows have halves of `in_half_` / `out_half_` floats, whole vectors, so no lane crosses
//   from the evens into the odds.

void WinogradConv3x3::transform_input(const float* x, std::int64_t samples, float* v) const {
  const std::int64_t tiles = samples * tiles_;
  const std::int64_t stride = position_stride(g_.channels, samples);
  const std::int64_t plane = g_.height * g_.width;
  const std::int64_t rows = std::min(g_.height, padded_h_ - g_.pad_top);
  const std::int64_t cols = std::min(g_.width, padded_w_ - g_.pad_left);
  const std::int64_t half = in_half_, row_stride = 2 * in_half_;
  // Zero once: every channel writes the same (image) positions, the padding stays zero. Slack at
  // the end for the last row's odd[t + 1] lanes.
  AlignedVector<float> padded(static_cast<std::size_t>(padded_h_ * row_stride + kLanes), 0.f);
  for (std::int64_t c = 0; c < g_.channels; ++c) {
    for (std::int64_t s = 0; s < samples; ++s) {
      const float* image = x + (s * g_.channels + c) * plane;
      for (std::int64_t yy = 0; yy < rows; ++yy) {
        float* row = padded.data() + (yy + g_.pad_top) * row_stride;
        split_row(image + yy * g_.width, cols, g_.pad_left, row, row + half);
      }
      for (std::int64_t ty = 0; ty < tiles_y_; ++ty) {
        const float* r = padded.data() + 2 * ty * row_stride;
        float* o = v + c * tiles + s * tiles_ + ty * tiles_x_;
        for (std::int64_t tx = 0; tx < tiles_x_; tx += kLanes) {
          Vec h[4][4];  // Bᵀ along each row: (d0 − d2, d1 + d2, d2 − d1, d1 − d3)
          for (int k = 0; k < 4; ++k) {
            const float* row = r + k * row_stride + tx;
            const Vec a = load(row), b = load(row + half), c2 = load(row + 1),
                      d = load(row + half + 1);
            h[k][0] = a - c2;
            h[k][1] = b + c2;
            h[k][2] = c2 - b;
            h[k][3] = b - d;
          }
          for (int j = 0; j < 4; ++j) {  // Bᵀ down each column
            store(o + (0 * 4 + j) * stride + tx, h[0][j] - h[2][j]);
            store(o + (1 * 4 + j) * stride + tx, h[1][j] + h[2][j]);
            store(o + (2 * 4 + j) * stride + tx, h[2][j] - h[1][j]);
            store(o + (3 * 4 + j) * stride + tx, h[1][j] - h[3][j]);
          }
        }
      }
    }
  }
}

void WinogradConv3x3::inverse_output(const float* m, std::int64_t samples, const float* bias,
                                     bool relu, float* y) const {
  const std::int64_t tiles = samples * tiles_;
  const std::int64_t stride = position_stride(g_.filters, samples);
  const std::int64_t half = out_half_, row_stride = 2 * out_half_;
  ScratchVector<float> full(static_cast<std::size_t>(2 * tiles_y_ * row_stride));  // split rows
  for (std::int64_t f = 0; f < g_.filters; ++f) {
    for (std::int64_t s = 0; s < samples; ++s) {
      for (std::int64_t ty = 0; ty < tiles_y_; ++ty) {
        const float* t = m + f * tiles + s * tiles_ + ty * tiles_x_;
        float* top = full.data() + 2 * ty * row_stride;
        float* bottom = top + row_stride;
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
          for (int j = 0; j < 2; ++j) {  // Aᵀ down each column
            store(top + j * half + tx, a[0][j] + a[1][j] + a[2][j]);
            store(bottom + j * half + tx, a[1][j] - a[2][j] - a[3][j]);
          }
        }
      }
      const float b = bias ? bias[f] : 0.f;
      float* plane = y + (s * g_.filters + f) * g_.out_h * g_.out_w;
      for (std::int64_t oy = 0; oy < g_.out_h; ++oy) {
        const float* row = full.data() + oy * row_stride;
        float* __restrict dst = plane + oy * g_.out_w;
        join_row(row, row + half, 0, g_.out_w, dst);
        if (relu) {
          for (std::int64_t ox = 0; ox < g_.out_w; ++ox) dst[ox] = std::max(dst[ox] + b, 0.f);
        } else {
          for (std::int64_t ox = 0; ox < g_.out_w; ++ox) dst[ox] += b;
        }
      }
    }
  }
}

void WinogradConv3x3::transform_output_gradient(const float* dy, std::int64_t samples,
                                                float* dm) const {
  const std::int64_t tiles = samples * tiles_;
  const std::int64_t stride = position_stride(g_.filters, samples);
  const std::int64_t half = out_half_, row_stride = 2 * out_half_;
  // dy on whole tiles, in split rows: zero past an odd edge.
  AlignedVector<float> full(static_cast<std::size_t>(2 * tiles_y_ * row_stride), 0.f);
  for (std::int64_t f = 0; f < g_.filters; ++f) {
    for (std::int64_t s = 0; s < samples; ++s) {
      const float* plane = dy + (s * g_.filters + f) * g_.out_h * g_.out_w;
      for (std::int64_t oy = 0; oy < g_.out_h; ++oy) {
        float* row = full.data() + oy * row_stride;
        split_row(plane + oy * g_.out_w, g_.out_w, 0, row, row + half);
      }
      for (std::int64_t ty = 0; ty < tiles_y_; ++ty) {
        const float* top = full.data() + 2 * ty * row_stride;
        const float* bottom = top + row_stride;
        float* o = dm + f * tiles + s * tiles_ + ty * tiles_x_;
        for (std::int64_t tx = 0; tx < tiles_x_; tx += kLanes) {
          // A along each row: (y0, y0 + y1, y0 − y1, −y1)
          const Vec t0 = load(top + tx), t1 = load(top + half + tx);
          const Vec b0 = load(bottom + tx), b1 = load(bottom + half + tx);
          const Vec row0[4] = {t0, t0 + t1, t0 - t1, -t1};
          const Vec row1[4] = {b0, b0 + b1, b0 - b1, -b1};
          for (int j = 0; j < 4; ++j) {  // A down each column
            store(o + (0 * 4 + j) * stride + tx, row0[j]);
            store(o + (1 * 4 + j) * stride + tx, row0[j] + row1[j]);
            store(o + (2 * 4 + j) * stride + tx, row0[j] - row1[j]);
            store(o + (3 * 4 + j) * stride + tx, -row1[j]);
          }
        }
      }
    }
  }
}

void WinogradConv3x3::inverse_input_gradient(const float* dv, std::int64_t samples,
                                             float* dx) const {
  const std::int64_t tiles = samples * tiles_;
  const std::int64_t stride = position_stride(g_.channels, samples);
  const std::int64_t plane = g_.height * g_.width;
  const std::int64_t rows = std::min(g_.height, padded_h_ - g_.pad_top);
  const std::int64_t cols = std::min(g_.width, padded_w_ - g_.pad_left);
  const std::int64_t half = in_half_, row_stride = 2 * in_half_;
  AlignedVector<float> padded(static_cast<std::size_t>(padded_h_ * row_stride));  // split rows
  // Per tile row, every patch row split into its left pair of columns (2t, 2t+1: pair t) and its
  // right pair (2t+2, 2t+3: pair t+1), stored at t and t+1 so that pair q of the plane row gets
  // left[q] + right[q]. left[tiles_x] and right[0] must be zero; `part` has room for the lanes
  // past them.
  const std::int64_t part = half + kLanes;
  AlignedVector<float> left(static_cast<std::size_t>(8 * part), 0.f);
  AlignedVector<float> right(left.size(), 0.f);
  for (std::int64_t c = 0; c < g_.channels; ++c) {
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
            e[i][0] = v0;
            e[i][1] = v1 - v2 + v3;
            e[i][2] = -v0 + v1 + v2;
            e[i][3] = -v3;
          }
          for (int j = 0; j < 4; ++j) {  // B down each column: patch rows k = 0..3
            const Vec d[4] = {e[0][j], e[1][j] - e[2][j] + e[3][j], -e[0][j] + e[1][j] + e[2][j],
                              -e[3][j]};
            for (int k = 0; k < 4; ++k) {
              if (j < 2)
                store(left.data() + (k * 2 + j) * part + tx, d[k]);
              else
                store(right.data() + (k * 2 + j - 2) * part + tx + 1, d[k]);
            }
          }
        }
        for (int k = 0; k < 8; ++k) left[static_cast<std::size_t>(k * part + tiles_x_)] = 0.f;
        for (int k = 0; k < 4; ++k) {
          float* row = padded.data() + (2 * ty + k) * row_stride;
          const float* l = left.data() + (k * 2) * part;
          const float* r = right.data() + (k * 2) * part;
          for (std::int64_t q = 0; q <= tiles_x_; q += kLanes) {
            store(row + q, load(row + q) + load(l + q) + load(r + q));
            store(row + half + q, load(row + half + q) + load(l + part + q) + load(r + part + q));
          }
        }
      }
      float* image = dx + (s * g_.channels + c) * plane;
      for (std::int64_t yy = 0; yy < rows; ++yy) {
        const float* row = padded.data() + (yy + g_.pad_top) * row_stride;
        join_row(row, row + half, g_.pad_left, cols, image + yy * g_.width);
      }
    }
  }
}

void WinogradConv3x3::forward(const float* x, std::int64_t samples, const float* u,
                              const float* bias, bool relu, float* y) const {
  const std::int64_t tiles = samples * tiles_;
  const std::int64_t f = g_.filters, c = g_.channels;
  const std::int64_t v_stride = position_stride(c, samples), m_stride = position_stride(f, samples);
  ScratchVector<float> v(static_cast<std::size_t>(kP * v_stride));
  ScratchVector<float> m(static_cast<std::size_t>(kP * m_stride));
  transform_input(x, samples, v.data());
  for (std::int64_t p = 0; p < kP; ++p) {
    MatrixMap(m.data() + p * m_stride, f, tiles).noalias() =
        ConstMatrixMap(u + p * f * c, f, c) * ConstMatrixMap(v.data() + p * v_stride, c, tiles);
  }
  inverse_output(m.data(), samples, bias, relu, y);
}

void WinogradConv3x3::backward(const float* x, const float* dy, std::int64_t samples,
                               const float* u, float* du, float* dx) const {
  const std::int64_t tiles = samples * tiles_;
  const std::int64_t f = g_.filters, c = g_.channels;
  const std::int64_t v_stride = position_stride(c, samples), m_stride = position_stride(f, samples);
  ScratchVector<float> v(static_cast<std::size_t>(kP * v_stride));
  ScratchVector<float> dm(static_cast<std::size_t>(kP * m_stride));
  transform_input(x, samples, v.data());
  transform_output_gradient(dy, samples, dm.data());
  for (std::int64_t p = 0; p < kP; ++p) {
    const ConstMatrixMap dm_p(dm.data() + p * m_stride, f, tiles);
    MatrixMap(du + p * f * c, f, c).noalias() +=
        dm_p * ConstMatrixMap(v.data() + p * v_stride, c, tiles).transpose();
  }
  if (!dx) return;
  float* dv = v.data();  // V is spent: reuse it for dV
  for (std::int64_t p = 0; p < kP; ++p) {
    MatrixMap(dv + p * v_stride, c, tiles).noalias() =
        ConstMatrixMap(u + p * f * c, f, c).transpose() *
        ConstMatrixMap(dm.data() + p * m_stride, f, tiles);
  }
  inverse_input_gradient(dv, samples, dx);
}

}  // namespace kiln::nn
