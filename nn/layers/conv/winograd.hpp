// Winograd F(2×2, 3×3): a 3×3, stride-1 convolution with 16 multiplications per 2×2 output tile
// and input channel instead of 36 (Lavin & Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016). For every output tile, with d the 4×4 input patch under it and g a 3×3 kernel:
//   y (2×2) = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],  G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],
//   Aᵀ = [1 1 1 0; 0 1 −1 −1].
// Summed over channels, each of the 16 positions ξ of the 4×4 product is one GEMM:
//   M_ξ (F, tiles) = U_ξ (F, C) · V_ξ (C, tiles),   U = G g Gᵀ,  V = Bᵀ d B.
// The backward passes are the transposes of these linear maps (so the gradients are exactly those
// of the forward computed here, whatever its rounding):
//   dM = A dy Aᵀ,   dV_ξ = U_ξᵀ · dM_ξ,   dx patch += B dV Bᵀ,
//   dU_ξ += dM_ξ · V_ξᵀ,   dg = Gᵀ dU G.
// Output tiles past an odd edge are computed and dropped (their dy is zero); input outside the
// image is zero, as in the direct convolution.
// Layouts: x, y, dy, dx (C, H, W) per sample; weights (F, C, 3, 3); U and dU (16, F, C).
#pragma once

#include <cstdint>

#include "nn/layer.hpp"

namespace kiln::nn {

struct WinogradGeometry {
  std::int64_t channels = 0, height = 0, width = 0;  // input, per sample
  std::int64_t filters = 0;
  std::int64_t out_h = 0, out_w = 0;       // output size
  std::int64_t pad_top = 0, pad_left = 0;  // zero rows/columns before the image
};

class WinogradConv3x3 {
 public:
  static constexpr std::int64_t kPositions = 16;  // 4×4 transformed tile

  explicit WinogradConv3x3(const WinogradGeometry& geometry);

  // U (16, F, C) from weights (F, C, 3, 3).
  void transform_weights(const float* weights, float* u) const;
  // Adds Gᵀ dU G (the weight gradient) to grad (F, C, 3, 3).
  void add_weight_gradient(const float* du, float* grad) const;

  // y for `samples` consecutive samples: bias (F) or null; relu clamps at zero; map (null or
  // the batch norm after the layer, nn/layer.hpp) applied last, with ChannelMap::apply's floats.
  void forward(const float* x, std::int64_t samples, const float* u, const float* bias, bool relu,
               const ChannelMap* map, float* y) const;
  // For `samples` consecutive samples whose output gradient is dy (already masked by any ReLU):
  // du (16, F, C) += the transformed weight gradient; dx (if not null) = the input gradient.
  void backward(const float* x, const float* dy, std::int64_t samples, const float* u, float* du,
                float* dx) const;

  // Samples per GEMM: enough tiles to keep the GEMMs efficient, few enough for the transformed
  // tiles to stay in cache. Callers split their work into groups of this size.
  std::int64_t samples_per_group() const { return samples_per_group_; }

  // The same two passes over a whole batch at once, run in parallel inside (nn/parallel.hpp):
  // for large weights on small outputs, where a group's GEMMs are thin and would stream U (and
  // dU) from memory once per group. Here each position's GEMM takes every sample's tiles, and
  // one task computes it whole; the transforms split over channels or filters. forward_batch
  // gives exactly forward()'s values (each output's chain is the same). backward_batch adds the
  // transformed weight gradient to du, each element one chain over the batch's tiles in order:
  // its values depend on neither the thread count nor a grouping.
  void forward_batch(const float* x, std::int64_t samples, const float* u, const float* bias,
                     bool relu, const ChannelMap* map, float* y) const;
  void backward_batch(const float* x, const float* dy, std::int64_t samples, const float* u,
                      float* du, float* dx) const;

 private:
  // Floats from one transform position to the next in V, M, dM, dV: a row of slack (.cpp).
  std::int64_t position_stride(std::int64_t rows, std::int64_t samples) const {
    return rows * samples * tiles_ + 16;
  }
  // The passes behind both forms: with `parallel`, split over tasks (the batch forms).
  void forward_pass(const float* x, std::int64_t samples, const float* u, const float* bias,
                    bool relu, const ChannelMap* map, float* y, bool parallel) const;
  void backward_pass(const float* x, const float* dy, std::int64_t samples, const float* u,
                     float* du, float* dx, bool parallel) const;
  // The transforms, for the channels (or filters) [first, last) of `samples` samples.
  void transform_input(const float* x, std::int64_t samples, std::int64_t first, std::int64_t last,
                       float* v) const;
  void inverse_output(const float* m, std::int64_t samples, std::int64_t first, std::int64_t last,
                      const float* bias, bool relu, const ChannelMap* map, float* y) const;
  void transform_output_gradient(const float* dy, std::int64_t samples, std::int64_t first,
                                 std::int64_t last, float* dm) const;
  void inverse_input_gradient(const float* dv, std::int64_t samples, std::int64_t first,
                              std::int64_t last, float* dx) const;

  WinogradGeometry g_;
  std::int64_t tiles_y_, tiles_x_, tiles_;  // per sample
  std::int64_t padded_h_, padded_w_;        // input plane holding every tile's 4×4 patch
  std::int64_t samples_per_group_;
};

}  // namespace kiln::nn
