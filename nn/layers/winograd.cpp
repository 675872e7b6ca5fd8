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

// Rows are kept split into even and odd columns (a "split row": `half` evens, then `half` odds).
// A tile's 4 columns 2t, 2t+1, 2t+2, 2t+3 are then even[t], odd[t], even[t+1], odd[t+1]: every
// transform loop below reads and writes unit-stride streams over t, which the compiler
// vectorizes; the interleaving happens once per row, here.
void split_row(const float* __restrict src, std::int64_t count, std::int64_t offset,
               float* __restrict even, float* __restrict odd) {
  for (std::int64_t x = 0; x < count; ++x) {
    const std::int64_t p = x + offset;
    (p & 1 ? odd : even)[p >> 1] = src[x];
  }
}

// dst[x] = the split row's column x + offset, for x < count.
void join_row(const float* __restrict even, const float* __restrict odd, std::int64_t offset,
              std::int64_t count, float* __restrict dst) {
  for (std::int64_t x = 0; x < count; ++x) {
    const std::int64_t p = x + offset;
    dst[x] = (p & 1 ? odd : even)[p >> 1];
  }
}

}  // namespace

void WinogradConv3x3::transform_input(const float* x, std::int64_t samples, float* v) const {
  const std::int64_t tiles = samples * tiles_;
  const std::int64_t position_stride = g_.channels * tiles;
  const std::int64_t plane = g_.height * g_.width;
  const std::int64_t rows = std::min(g_.height, padded_h_ - g_.pad_top);
  const std::int64_t cols = std::min(g_.width, padded_w_ - g_.pad_left);
  const std::int64_t half = padded_w_ / 2;
  // Zero once: every channel writes the same (image) positions, the padding stays zero.
  AlignedVector<float> padded(static_cast<std::size_t>(padded_h_ * padded_w_), 0.f);
  for (std::int64_t s = 0; s < samples; ++s) {
    for (std::int64_t c = 0; c < g_.channels; ++c) {
      const float* image = x + (s * g_.channels + c) * plane;
      for (std::int64_t yy = 0; yy < rows; ++yy) {
        float* row = padded.data() + (yy + g_.pad_top) * padded_w_;
        split_row(image + yy * g_.width, cols, g_.pad_left, row, row + half);
      }
      for (std::int64_t ty = 0; ty < tiles_y_; ++ty) {
        const float* r[4];
        for (int k = 0; k < 4; ++k) r[k] = padded.data() + (2 * ty + k) * padded_w_;
        float* o[kP];
        for (int p = 0; p < kP; ++p)
          o[p] = v + p * position_stride + c * tiles + s * tiles_ + ty * tiles_x_;
#pragma GCC ivdep
        for (std::int64_t tx = 0; tx < tiles_x_; ++tx) {
          float h[4][4];  // Bᵀ along each row: (d0 − d2, d1 + d2, d2 − d1, d1 − d3)
          for (int k = 0; k < 4; ++k) {
            const float a = r[k][tx], b = r[k][half + tx], c2 = r[k][tx + 1],
                        d = r[k][half + tx + 1];
            h[k][0] = a - c2;
            h[k][1] = b + c2;
            h[k][2] = c2 - b;
            h[k][3] = b - d;
          }
          for (int j = 0; j < 4; ++j) {  // Bᵀ down each column
            o[0 * 4 + j][tx] = h[0][j] - h[2][j];
            o[1 * 4 + j][tx] = h[1][j] + h[2][j];
            o[2 * 4 + j][tx] = h[2][j] - h[1][j];
            o[3 * 4 + j][tx] = h[1][j] - h[3][j];
          }
        }
      }
    }
  }
}

void WinogradConv3x3::inverse_output(const float* m, std::int64_t samples, const float* bias,
                                     bool relu, float* y) const {
  const std::int64_t tiles = samples * tiles_;
  const std::int64_t position_stride = g_.filters * tiles;
  const std::int64_t half = tiles_x_;
  ScratchVector<float> full(static_cast<std::size_t>(2 * tiles_y_ * 2 * half));  // split rows
  for (std::int64_t s = 0; s < samples; ++s) {
    for (std::int64_t f = 0; f < g_.filters; ++f) {
      for (std::int64_t ty = 0; ty < tiles_y_; ++ty) {
        const float* t[kP];
        for (int p = 0; p < kP; ++p)
          t[p] = m + p * position_stride + f * tiles + s * tiles_ + ty * tiles_x_;
        float* top = full.data() + 2 * ty * 2 * half;
        float* bottom = top + 2 * half;
#pragma GCC ivdep
        for (std::int64_t tx = 0; tx < tiles_x_; ++tx) {
          float a[4][2];  // Aᵀ along each row: (m0 + m1 + m2, m1 − m2 − m3)
          for (int i = 0; i < 4; ++i) {
            a[i][0] = t[i * 4 + 0][tx] + t[i * 4 + 1][tx] + t[i * 4 + 2][tx];
            a[i][1] = t[i * 4 + 1][tx] - t[i * 4 + 2][tx] - t[i * 4 + 3][tx];
          }
          for (int j = 0; j < 2; ++j) {  // Aᵀ down each column
            top[j * half + tx] = a[0][j] + a[1][j] + a[2][j];
            bottom[j * half + tx] = a[1][j] - a[2][j] - a[3][j];
          }
        }
      }
      const float b = bias ? bias[f] : 0.f;
      float* plane = y + (s * g_.filters + f) * g_.out_h * g_.out_w;
      for (std::int64_t oy = 0; oy < g_.out_h; ++oy) {
        const float* row = full.data() + oy * 2 * half;
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
  const std::int64_t position_stride = g_.filters * tiles;
  const std::int64_t half = tiles_x_;
  // dy on whole tiles, in split rows: zero past an odd edge.
  AlignedVector<float> full(static_cast<std::size_t>(2 * tiles_y_ * 2 * half), 0.f);
  for (std::int64_t s = 0; s < samples; ++s) {
    for (std::int64_t f = 0; f < g_.filters; ++f) {
      const float* plane = dy + (s * g_.filters + f) * g_.out_h * g_.out_w;
      for (std::int64_t oy = 0; oy < g_.out_h; ++oy) {
        float* row = full.data() + oy * 2 * half;
        split_row(plane + oy * g_.out_w, g_.out_w, 0, row, row + half);
      }
      for (std::int64_t ty = 0; ty < tiles_y_; ++ty) {
        const float* top = full.data() + 2 * ty * 2 * half;
        const float* bottom = top + 2 * half;
        float* o[kP];
        for (int p = 0; p < kP; ++p)
          o[p] = dm + p * position_stride + f * tiles + s * tiles_ + ty * tiles_x_;
#pragma GCC ivdep
        for (std::int64_t tx = 0; tx < tiles_x_; ++tx) {
          // A along each row: (y0, y0 + y1, y0 − y1, −y1)
          const float t0 = top[tx], t1 = top[half + tx];
          const float b0 = bottom[tx], b1 = bottom[half + tx];
          const float row0[4] = {t0, t0 + t1, t0 - t1, -t1};
          const float row1[4] = {b0, b0 + b1, b0 - b1, -b1};
          for (int j = 0; j < 4; ++j) {  // A down each column
            o[0 * 4 + j][tx] = row0[j];
            o[1 * 4 + j][tx] = row0[j] + row1[j];
            o[2 * 4 + j][tx] = row0[j] - row1[j];
            o[3 * 4 + j][tx] = -row1[j];
          }
        }
      }
    }
  }
}

void WinogradConv3x3::inverse_input_gradient(const float* dv, std::int64_t samples,
                                             float* dx) const {
  const std::int64_t tiles = samples * tiles_;
  const std::int64_t position_stride = g_.channels * tiles;
  const std::int64_t plane = g_.height * g_.width;
  const std::int64_t rows = std::min(g_.height, padded_h_ - g_.pad_top);
  const std::int64_t cols = std::min(g_.width, padded_w_ - g_.pad_left);
  const std::int64_t half = padded_w_ / 2;  // column pairs of the padded plane: tiles_x + 1
  AlignedVector<float> padded(static_cast<std::size_t>(padded_h_ * padded_w_));  // split rows
  // Per tile row, the 4×4 patch of every tile split in a left pair (columns 2t, 2t+1: pair t) and
  // a right pair (2t+2, 2t+3: pair t+1), stored so that pair q of a patch row sums left[q] +
  // right[q]. left[..][tiles_x] and right[..][0] stay zero.
  AlignedVector<float> left(static_cast<std::size_t>(4 * 2 * half), 0.f);
  AlignedVector<float> right(left.size(), 0.f);
  for (std::int64_t s = 0; s < samples; ++s) {
    for (std::int64_t c = 0; c < g_.channels; ++c) {
      std::fill(padded.begin(), padded.end(), 0.f);
      for (std::int64_t ty = 0; ty < tiles_y_; ++ty) {
        const float* t[kP];
        for (int p = 0; p < kP; ++p)
          t[p] = dv + p * position_stride + c * tiles + s * tiles_ + ty * tiles_x_;
        float* l[8];
        float* r[8];
        for (int k = 0; k < 8; ++k) {
          l[k] = left.data() + k * half;
          r[k] = right.data() + k * half + 1;
        }
#pragma GCC ivdep
        for (std::int64_t tx = 0; tx < tiles_x_; ++tx) {
          float e[4][4];  // B along each row: (v0, v1 − v2 + v3, −v0 + v1 + v2, −v3)
          for (int i = 0; i < 4; ++i) {
            const float v0 = t[i * 4 + 0][tx], v1 = t[i * 4 + 1][tx];
            const float v2 = t[i * 4 + 2][tx], v3 = t[i * 4 + 3][tx];
            e[i][0] = v0;
            e[i][1] = v1 - v2 + v3;
            e[i][2] = -v0 + v1 + v2;
            e[i][3] = -v3;
          }
          for (int j = 0; j < 4; ++j) {  // B down each column: patch rows k = 0..3
            const float d[4] = {e[0][j], e[1][j] - e[2][j] + e[3][j], -e[0][j] + e[1][j] + e[2][j],
                                -e[3][j]};
            for (int k = 0; k < 4; ++k) (j < 2 ? l[k * 2 + j] : r[k * 2 + j - 2])[tx] = d[k];
          }
        }
        for (int k = 0; k < 4; ++k) {
          float* __restrict row = padded.data() + (2 * ty + k) * padded_w_;
          const float* __restrict l0 = left.data() + (k * 2) * half;
          const float* __restrict l1 = l0 + half;
          const float* __restrict r0 = right.data() + (k * 2) * half;
          const float* __restrict r1 = r0 + half;
          for (std::int64_t q = 0; q < half; ++q) {
            row[q] += l0[q] + r0[q];
            row[half + q] += l1[q] + r1[q];
          }
        }
      }
      float* image = dx + (s * g_.channels + c) * plane;
      for (std::int64_t yy = 0; yy < rows; ++yy) {
        const float* row = padded.data() + (yy + g_.pad_top) * padded_w_;
        join_row(row, row + half, g_.pad_left, cols, image + yy * g_.width);
      }
    }
  }
}

void WinogradConv3x3::forward(const float* x, std::int64_t samples, const float* u,
                              const float* bias, bool relu, float* y) const {
  const std::int64_t tiles = samples * tiles_;
  const std::int64_t f = g_.filters, c = g_.channels;
  ScratchVector<float> v(static_cast<std::size_t>(kP * c * tiles));
  ScratchVector<float> m(static_cast<std::size_t>(kP * f * tiles));
  transform_input(x, samples, v.data());
  for (std::int64_t p = 0; p < kP; ++p) {
    MatrixMap(m.data() + p * f * tiles, f, tiles).noalias() =
        ConstMatrixMap(u + p * f * c, f, c) * ConstMatrixMap(v.data() + p * c * tiles, c, tiles);
  }
  inverse_output(m.data(), samples, bias, relu, y);
}

void WinogradConv3x3::backward(const float* x, const float* dy, std::int64_t samples,
                               const float* u, float* du, float* dx) const {
  const std::int64_t tiles = samples * tiles_;
  const std::int64_t f = g_.filters, c = g_.channels;
  ScratchVector<float> v(static_cast<std::size_t>(kP * c * tiles));
  ScratchVector<float> dm(static_cast<std::size_t>(kP * f * tiles));
  transform_input(x, samples, v.data());
  transform_output_gradient(dy, samples, dm.data());
  for (std::int64_t p = 0; p < kP; ++p) {
    const ConstMatrixMap dm_p(dm.data() + p * f * tiles, f, tiles);
    MatrixMap(du + p * f * c, f, c).noalias() +=
        dm_p * ConstMatrixMap(v.data() + p * c * tiles, c, tiles).transpose();
  }
  if (!dx) return;
  float* dv = v.data();  // V is spent: reuse it for dV
  for (std::int64_t p = 0; p < kP; ++p) {
    MatrixMap(dv + p * c * tiles, c, tiles).noalias() =
        ConstMatrixMap(u + p * f * c, f, c).transpose() *
        ConstMatrixMap(dm.data() + p * f * tiles, f, tiles);
  }
  inverse_input_gradient(dv, samples, dx);
}

}  // namespace kiln::nn
