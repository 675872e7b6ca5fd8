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

void WinogradConv3x3::transform_input(const float* x, std::int64_t samples, float* v) const {
  const std::int64_t tiles = samples * tiles_;
  const std::int64_t position_stride = g_.channels * tiles;
  const std::int64_t plane = g_.height * g_.width;
  const std::int64_t rows = std::min(g_.height, padded_h_ - g_.pad_top);
  const std::int64_t cols = std::min(g_.width, padded_w_ - g_.pad_left);
  AlignedVector<float> padded(static_cast<std::size_t>(padded_h_ * padded_w_), 0.f);
  for (std::int64_t s = 0; s < samples; ++s) {
    for (std::int64_t c = 0; c < g_.channels; ++c) {
      const float* image = x + (s * g_.channels + c) * plane;
      for (std::int64_t yy = 0; yy < rows; ++yy)
        std::copy(image + yy * g_.width, image + yy * g_.width + cols,
                  padded.data() + (yy + g_.pad_top) * padded_w_ + g_.pad_left);
      float* out = v + c * tiles + s * tiles_;
      for (std::int64_t ty = 0; ty < tiles_y_; ++ty) {
        const float* __restrict r0 = padded.data() + 2 * ty * padded_w_;
        const float* __restrict r1 = r0 + padded_w_;
        const float* __restrict r2 = r1 + padded_w_;
        const float* __restrict r3 = r2 + padded_w_;
        float* __restrict o = out + ty * tiles_x_;
        for (std::int64_t tx = 0; tx < tiles_x_; ++tx) {
          const std::int64_t x0 = 2 * tx;
          float h[4][4];  // Bᵀ along each row: (d0 − d2, d1 + d2, d2 − d1, d1 − d3)
          const float* r[4] = {r0, r1, r2, r3};
          for (int k = 0; k < 4; ++k) {
            const float a = r[k][x0], b = r[k][x0 + 1], c2 = r[k][x0 + 2], d = r[k][x0 + 3];
            h[k][0] = a - c2;
            h[k][1] = b + c2;
            h[k][2] = c2 - b;
            h[k][3] = b - d;
          }
          for (int j = 0; j < 4; ++j) {  // Bᵀ down each column
            o[(0 * 4 + j) * position_stride + tx] = h[0][j] - h[2][j];
            o[(1 * 4 + j) * position_stride + tx] = h[1][j] + h[2][j];
            o[(2 * 4 + j) * position_stride + tx] = h[2][j] - h[1][j];
            o[(3 * 4 + j) * position_stride + tx] = h[1][j] - h[3][j];
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
  const std::int64_t full_w = 2 * tiles_x_;
  AlignedVector<float> full(static_cast<std::size_t>(2 * tiles_y_ * full_w));
  for (std::int64_t s = 0; s < samples; ++s) {
    for (std::int64_t f = 0; f < g_.filters; ++f) {
      const float* in = m + f * tiles + s * tiles_;
      for (std::int64_t ty = 0; ty < tiles_y_; ++ty) {
        const float* __restrict t = in + ty * tiles_x_;
        float* __restrict top = full.data() + 2 * ty * full_w;
        float* __restrict bottom = top + full_w;
        for (std::int64_t tx = 0; tx < tiles_x_; ++tx) {
          float a[4][2];  // Aᵀ along each row: (m0 + m1 + m2, m1 − m2 − m3)
          for (int i = 0; i < 4; ++i) {
            const float m0 = t[(i * 4 + 0) * position_stride + tx];
            const float m1 = t[(i * 4 + 1) * position_stride + tx];
            const float m2 = t[(i * 4 + 2) * position_stride + tx];
            const float m3 = t[(i * 4 + 3) * position_stride + tx];
            a[i][0] = m0 + m1 + m2;
            a[i][1] = m1 - m2 - m3;
          }
          for (int j = 0; j < 2; ++j) {  // Aᵀ down each column
            top[2 * tx + j] = a[0][j] + a[1][j] + a[2][j];
            bottom[2 * tx + j] = a[1][j] - a[2][j] - a[3][j];
          }
        }
      }
      const float b = bias ? bias[f] : 0.f;
      float* plane = y + (s * g_.filters + f) * g_.out_h * g_.out_w;
      for (std::int64_t oy = 0; oy < g_.out_h; ++oy) {
        const float* __restrict src = full.data() + oy * full_w;
        float* __restrict dst = plane + oy * g_.out_w;
        if (relu) {
          for (std::int64_t ox = 0; ox < g_.out_w; ++ox) dst[ox] = std::max(src[ox] + b, 0.f);
        } else {
          for (std::int64_t ox = 0; ox < g_.out_w; ++ox) dst[ox] = src[ox] + b;
        }
      }
    }
  }
}

void WinogradConv3x3::transform_output_gradient(const float* dy, std::int64_t samples,
                                                float* dm) const {
  const std::int64_t tiles = samples * tiles_;
  const std::int64_t position_stride = g_.filters * tiles;
  const std::int64_t full_w = 2 * tiles_x_;
  // dy on whole tiles: zero past an odd edge.
  AlignedVector<float> full(static_cast<std::size_t>(2 * tiles_y_ * full_w), 0.f);
  for (std::int64_t s = 0; s < samples; ++s) {
    for (std::int64_t f = 0; f < g_.filters; ++f) {
      const float* plane = dy + (s * g_.filters + f) * g_.out_h * g_.out_w;
      for (std::int64_t oy = 0; oy < g_.out_h; ++oy)
        std::copy(plane + oy * g_.out_w, plane + (oy + 1) * g_.out_w, full.data() + oy * full_w);
      float* out = dm + f * tiles + s * tiles_;
      for (std::int64_t ty = 0; ty < tiles_y_; ++ty) {
        const float* __restrict top = full.data() + 2 * ty * full_w;
        const float* __restrict bottom = top + full_w;
        float* __restrict o = out + ty * tiles_x_;
        for (std::int64_t tx = 0; tx < tiles_x_; ++tx) {
          // A along each row: (y0, y0 + y1, y0 − y1, −y1)
          const float t0 = top[2 * tx], t1 = top[2 * tx + 1];
          const float b0 = bottom[2 * tx], b1 = bottom[2 * tx + 1];
          const float row0[4] = {t0, t0 + t1, t0 - t1, -t1};
          const float row1[4] = {b0, b0 + b1, b0 - b1, -b1};
          for (int j = 0; j < 4; ++j) {  // A down each column
            o[(0 * 4 + j) * position_stride + tx] = row0[j];
            o[(1 * 4 + j) * position_stride + tx] = row0[j] + row1[j];
            o[(2 * 4 + j) * position_stride + tx] = row0[j] - row1[j];
            o[(3 * 4 + j) * position_stride + tx] = -row1[j];
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
  const std::int64_t pairs = tiles_x_ + 1;  // column pairs of the padded plane
  AlignedVector<float> padded(static_cast<std::size_t>(padded_h_ * padded_w_));
  // Per tile row: the left half (columns 2tx, 2tx+1) and the right half (2tx+2, 2tx+3) of every
  // patch row, the right half shifted by one pair so that pair q sums left[q] + right[q].
  AlignedVector<float> left(static_cast<std::size_t>(4 * 2 * pairs), 0.f);
  AlignedVector<float> right(left.size(), 0.f);
  for (std::int64_t s = 0; s < samples; ++s) {
    for (std::int64_t c = 0; c < g_.channels; ++c) {
      std::fill(padded.begin(), padded.end(), 0.f);
      const float* in = dv + c * tiles + s * tiles_;
      for (std::int64_t ty = 0; ty < tiles_y_; ++ty) {
        const float* __restrict t = in + ty * tiles_x_;
        float* __restrict l = left.data();
        float* __restrict r = right.data();
        for (std::int64_t tx = 0; tx < tiles_x_; ++tx) {
          float e[4][4];  // B along each row: (v0, v1 − v2 + v3, −v0 + v1 + v2, −v3)
          for (int i = 0; i < 4; ++i) {
            const float v0 = t[(i * 4 + 0) * position_stride + tx];
            const float v1 = t[(i * 4 + 1) * position_stride + tx];
            const float v2 = t[(i * 4 + 2) * position_stride + tx];
            const float v3 = t[(i * 4 + 3) * position_stride + tx];
            e[i][0] = v0;
            e[i][1] = v1 - v2 + v3;
            e[i][2] = -v0 + v1 + v2;
            e[i][3] = -v3;
          }
          for (int j = 0; j < 4; ++j) {  // B down each column
            const float d[4] = {e[0][j], e[1][j] - e[2][j] + e[3][j], -e[0][j] + e[1][j] + e[2][j],
                                -e[3][j]};
            for (int k = 0; k < 4; ++k) {
              if (j < 2)
                l[(k * 2 + j) * pairs + tx] = d[k];
              else
                r[(k * 2 + j - 2) * pairs + tx + 1] = d[k];
            }
          }
        }
        for (int k = 0; k < 4; ++k) {
          float* __restrict row = padded.data() + (2 * ty + k) * padded_w_;
          const float* __restrict l0 = l + (k * 2) * pairs;
          const float* __restrict l1 = l0 + pairs;
          const float* __restrict r0 = r + (k * 2) * pairs;
          const float* __restrict r1 = r0 + pairs;
          for (std::int64_t q = 0; q < pairs; ++q) {
            row[2 * q] += l0[q] + r0[q];
            row[2 * q + 1] += l1[q] + r1[q];
          }
        }
      }
      float* image = dx + (s * g_.channels + c) * plane;
      for (std::int64_t yy = 0; yy < rows; ++yy) {
        const float* src = padded.data() + (yy + g_.pad_top) * padded_w_ + g_.pad_left;
        std::copy(src, src + cols, image + yy * g_.width);
      }
    }
  }
}

void WinogradConv3x3::forward(const float* x, std::int64_t samples, const float* u,
                              const float* bias, bool relu, float* y) const {
  const std::int64_t tiles = samples * tiles_;
  const std::int64_t f = g_.filters, c = g_.channels;
  AlignedVector<float> v(static_cast<std::size_t>(kP * c * tiles));
  AlignedVector<float> m(static_cast<std::size_t>(kP * f * tiles));
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
  AlignedVector<float> v(static_cast<std::size_t>(kP * c * tiles));
  AlignedVector<float> dm(static_cast<std::size_t>(kP * f * tiles));
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
