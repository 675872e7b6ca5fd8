// Depthwise convolution computed directly (conv2d with groups = C: MobileNet, EfficientNet,
// ConvNeXt, RegNet's wide groups excepted): filter f = c·M + m reads channel c alone,
//   y[n, f, oy, ox] = b[f] + Σ_i Σ_j w[f, i, j] · x[n, c, oy·sh − pt + i·dh, ox·sw − pl + j·dw].
// Each tap adds a scaled row of the input to a row of the output: with stride 1 a contiguous
// axpy, where im2col + GEMM would copy every pixel K times to multiply it by a 1 × K matrix.
// Weight gradients are summed per fixed chunk of samples and the chunks in order: the same for any
// thread count. The geometry's `channels` is C, the whole input's.
#pragma once

#include <cstdint>

#include "nn/layers/conv/im2col.hpp"
#include "nn/tensor.hpp"

namespace kiln::nn {

struct DepthwiseWeights {
  const float* weight;  // (C·M, 1, KH, KW)
  const float* bias;    // (C·M), or null
  std::int64_t multiplier = 1;
  bool relu = false;   // an absorbed ReLU: max(0, ·) on the output, dy masked by y > 0
  bool relu6 = false;  // ... a ReLU6 (relu is set too): min(max(0, ·), 6), masked by 0 < y < 6
};

void depthwise_forward(const PatchGeometry& g, const DepthwiseWeights& w, const Tensor& x,
                       Tensor& y);

// Adds the weight (and bias, when `bias_grad` is not null) gradients; dx (when not null) is
// assigned.
void depthwise_backward(const PatchGeometry& g, const DepthwiseWeights& w, const Tensor& x,
                        const Tensor& y, const Tensor& dy, float* weight_grad, float* bias_grad,
                        Tensor* dx);

}  // namespace kiln::nn
