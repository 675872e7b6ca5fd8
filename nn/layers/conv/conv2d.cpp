#include "nn/layers/conv/conv2d.hpp"

#include <Eigen/Core>
#include <algorithm>

#include "nn/init.hpp"
#include "nn/kernels/aligned_vector.hpp"
#include "nn/kernels/gemm.hpp"
#include "nn/kernels/lane_sum.hpp"
#include "nn/kernels/parallel_gemm.hpp"
#include "nn/kernels/transpose.hpp"
#include "nn/layer_options.hpp"
#include "nn/layers/activations.hpp"
#include "nn/layers/conv/depthwise.hpp"
#include "nn/layers/conv/im2col.hpp"
#include "nn/parallel.hpp"

namespace kiln::nn {
namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixMap = Eigen::Map<RowMatrix>;
using ConstMatrixMap = Eigen::Map<const RowMatrix>;

// Samples per task. Fixed: the order in which weight gradients are summed depends on it alone.
constexpr std::int64_t kSampleChunk = 4;

// "auto" picks winograd from this many input channels and filters up: below it the 16 GEMMs are
// too thin (their inner dimension is the channel count) to win (measured: see the README).
constexpr std::int64_t kWinogradMinChannels = 16;
// ... and from this many output pixels up (5×5: 9 tiles): below it a sample has too few 2×2 tiles
// to pay for transforming the weights (16·F·C floats, on every pass) and summing their gradient
// per chunk (`kiln bench train --profile`, docs/roofline.md: 4×4 outputs ran 1.4x faster without,
// 7×7 ones slower).
constexpr std::int64_t kWinogradMinPixels = 25;
// ... and, where the whole-batch lowering below fits (large weights, small output), from this
// many output pixels up (4×4). There Winograd runs over the whole batch too (forward_batch):
// a group's GEMMs would be thin and stream the transformed weights, and their gradient, from
// memory once per group (resnet18's 512-channel 7×7 layers at 224 px took 271 ms a backward
// pass that way). Batched, those layers run faster than the whole-batch lowering (`kiln bench
// train --model resnet18 --input 3 224 224 --batch 16`: 22 img/s against 15 without them;
// docs/benchmarks.md). On 2×2 outputs (one tile a sample) the lowering stays faster: at 3×64×64
// 194 img/s with 4×4 outputs as the least, 158 with 2×2.
constexpr std::int64_t kWinogradMinPixelsLargeWeights = 16;
// "gemm" lowers the whole batch into one product (conv2d.hpp) when the weights exceed what stays
// in a core's L2 cache between samples, and the output is small enough that one sample's product
// is thin. Smaller weights are re-read from L2 per sample at no cost, and a whole-batch lowering
// of larger outputs falls out of the caches itself (measured on resnet20's stride-2 layers: 3x
// slower).
constexpr std::int64_t kWholeBatchAboveWeightBytes = 512 * 1024;
constexpr std::int64_t kWholeBatchBelowPixels = 256;

// Outputs of up to this many pixels (16×16) are lowered through a PatchTable (im2col.hpp): on
// rows this short im2col's per-row calls cost more than its copies. The table holds
// KH·KW·OH·OW offsets: 2,304 for a 3×3 kernel.
constexpr std::int64_t kTableMaxPixels = 256;

// The per-sample forward pass lowers and multiplies bands of output rows whose patches fill at
// most this many bytes, so that they are still in the L2 cache when the product reads them (the
// stem of resnet18 at 224 px lowers 7.4 MB a sample). The values do not change: every output is
// the same chain of multiply-adds whichever band computes it. The backward passes lower whole
// samples: banding would reorder the sums of the weight and input gradients.
constexpr std::int64_t kForwardBandBytes = 256 * 1024;

// The absorbed ReLU's (or ReLU6's) backward: dy where y > 0 (and y < 6), written to `masked`;
// without one, dy itself.
const float* through_relu(bool relu, bool relu6, const float* y, const float* dy,
                          std::int64_t count, float* masked) {
  if (!relu) return dy;
  if (relu6) {
    relu6_gradient(y, dy, count, masked);
  } else {
    relu_gradient(y, dy, count, masked);
  }
  return masked;
}

// sums[o] += Σ dy over each filter's plane in `samples` samples (lane sums: reproducible).
void add_bias_sums(const float* dy, std::int64_t samples, std::int64_t filters,
                   std::int64_t spatial, float* sums) {
  for (std::int64_t k = 0; k < samples; ++k)
    for (std::int64_t o = 0; o < filters; ++o)
      sums[o] += lane_sum(dy + (k * filters + o) * spatial, spatial);
}

// total[e] += Σ_c partials[c·stride + e] for e < count, chunk by chunk in order: the per-chunk
// gradients summed the same way whatever the thread count.
void add_chunk_sums(const float* partials, std::int64_t chunks, std::int64_t stride,
                    std::int64_t count, float* total) {
  for (std::int64_t c = 0; c < chunks; ++c)
    for (std::int64_t e = 0; e < count; ++e) total[e] += partials[c * stride + e];
}

// The row stride for a scratch matrix of `columns` floats per row: whole cache lines, and an odd
// number of them. A stride of a power-of-two lines maps every row a product walks down to the
// same few cache sets, and the kernel's 256-deep slice of B would evict itself (measured: 2.0x
// slower on 8×8 outputs at batch 32, where a row is 8 KB).
std::int64_t padded_stride(std::int64_t columns) {
  constexpr std::int64_t kLine = 16;  // floats per 64-byte line
  const std::int64_t lines = (columns + kLine - 1) / kLine;
  return (lines % 2 ? lines : lines + 1) * kLine;
}

}  // namespace

ConvAlgorithm parse_conv_algorithm(const std::string& text) {
  if (text == "auto") return ConvAlgorithm::kAuto;
  if (text == "gemm") return ConvAlgorithm::kGemm;
  if (text == "winograd") return ConvAlgorithm::kWinograd;
  throw Error("conv2d: algorithm must be \"auto\", \"gemm\" or \"winograd\", got \"" + text + "\"");
}

std::string conv_algorithm_name(ConvAlgorithm algorithm) {
  switch (algorithm) {
    case ConvAlgorithm::kGemm:
      return "gemm";
    case ConvAlgorithm::kWinograd:
      return "winograd";
    case ConvAlgorithm::kAuto:
      break;
  }
  return "auto";
}

Conv2D::Conv2D(Conv2DOptions options) : options_(std::move(options)) {
  auto& o = options_;
  if (o.depth_multiplier > 0) {
    if (o.filters != 0 || o.groups != 1)
      throw Error("conv2d: depth_multiplier sets filters and groups; give neither with it");
    o.filters = o.groups = 1;  // until build() knows the input's channels
  }
  if (o.filters <= 0) throw Error("conv2d: filters must be > 0, got " + std::to_string(o.filters));
  if (o.kernel.h <= 0 || o.kernel.w <= 0) throw Error("conv2d: kernel_size must be > 0");
  if (o.strides.h <= 0 || o.strides.w <= 0) throw Error("conv2d: strides must be > 0");
  if (o.dilation.h <= 0 || o.dilation.w <= 0) throw Error("conv2d: dilation must be > 0");
  if (o.groups <= 0 || o.filters % o.groups != 0) {
    throw Error("conv2d: groups must be > 0 and divide filters (" + std::to_string(o.filters) +
                "), got " + std::to_string(o.groups));
  }
  check_initializer_name(o.weights.init.type, "conv2d");
}

Shape Conv2D::build(const Shape& input) {
  in_ = input.with_n(1);
  auto& o = options_;
  if (o.depth_multiplier > 0) {
    o.groups = in_.c;
    o.filters = in_.c * o.depth_multiplier;
  }
  if (in_.c % o.groups != 0) {
    throw Error("conv2d: groups (" + std::to_string(o.groups) + ") must divide the input's " +
                std::to_string(in_.c) + " channels");
  }
  rows_ = window_1d(in_.h, dilated_extent(o.kernel.h, o.dilation.h), o.strides.h, o.padding,
                    Axis::kHeight);
  cols_ = window_1d(in_.w, dilated_extent(o.kernel.w, o.dilation.w), o.strides.w, o.padding,
                    Axis::kWidth);
  if (rows_.out <= 0 || cols_.out <= 0) {
    throw Error("conv2d: a " + std::to_string(o.kernel.h) + "x" + std::to_string(o.kernel.w) +
                " kernel does not fit the input " + input.str() +
                " with padding \"valid\"; use padding \"same\" or a smaller kernel");
  }
  patch_ = {in_.c / o.groups, in_.h, in_.w, o.kernel, o.strides, o.dilation, rows_, cols_};
  depthwise_ = o.groups == in_.c && in_.c > 1;
  table_ = patch_.output_pixels() <= kTableMaxPixels ? PatchTable(patch_) : PatchTable();
  const std::int64_t col_floats = patch_.patch_size() * patch_.output_pixels();
  forward_band_rows_ =
      col_floats * 4 <= kForwardBandBytes
          ? rows_.out
          : std::clamp<std::int64_t>(kForwardBandBytes / 4 / (patch_.patch_size() * cols_.out), 1,
                                     rows_.out);
  const bool plain = o.groups == 1 && o.dilation.h == 1 && o.dilation.w == 1;
  const bool winograd_fits =
      plain && o.kernel.h == 3 && o.kernel.w == 3 && o.strides.h == 1 && o.strides.w == 1;
  if (o.algorithm == ConvAlgorithm::kWinograd && !winograd_fits) {
    throw Error(
        "conv2d: algorithm \"winograd\" needs a 3x3 kernel with strides 1, dilation 1 "
        "and groups 1, got kernel " +
        std::to_string(o.kernel.h) + "x" + std::to_string(o.kernel.w) + " strides " +
        std::to_string(o.strides.h) + "x" + std::to_string(o.strides.w) +
        "; use \"auto\" or \"gemm\"");
  }
  const std::int64_t pixels = rows_.out * cols_.out;
  const std::int64_t weight_bytes =
      static_cast<std::int64_t>(sizeof(float)) * o.filters * patch_.patch_size();
  const bool batch_lowering_fits =
      plain && pixels < kWholeBatchBelowPixels && weight_bytes > kWholeBatchAboveWeightBytes;
  const std::int64_t min_pixels =
      batch_lowering_fits ? kWinogradMinPixelsLargeWeights : kWinogradMinPixels;
  const bool use_winograd =
      o.algorithm == ConvAlgorithm::kWinograd ||
      (o.algorithm == ConvAlgorithm::kAuto && winograd_fits && in_.c >= kWinogradMinChannels &&
       o.filters >= kWinogradMinChannels && pixels >= min_pixels);
  whole_batch_ = batch_lowering_fits && !use_winograd;
  winograd_batch_ = batch_lowering_fits && use_winograd;
  winograd_.reset();
  if (use_winograd) {
    winograd_.emplace(WinogradGeometry{in_.c, in_.h, in_.w, o.filters, rows_.out, cols_.out,
                                       rows_.pad_before, cols_.pad_before});
    transformed_weight_.resize(
        static_cast<std::size_t>(WinogradConv3x3::kPositions * o.filters * in_.c));
  }
  const Shape w{options_.filters, patch_.channels, options_.kernel.h, options_.kernel.w};
  weight_ = {"weight", Tensor(w), Tensor(w), options_.weights.kernel_regularizer};
  if (options_.weights.use_bias)
    bias_ = {"bias", Tensor({options_.filters, 1, 1, 1}), Tensor({options_.filters, 1, 1, 1}),
             options_.weights.bias_regularizer};
  return {1, options_.filters, rows_.out, cols_.out};
}

void Conv2D::initialize(Rng& rng) {
  const std::int64_t area = options_.kernel.h * options_.kernel.w;
  const std::int64_t groups = options_.groups;
  fill_initializer(options_.weights.init, weight_.value.span(), in_.c / groups * area,
                   options_.filters / groups * area, rng);
  if (options_.weights.use_bias) bias_.value.fill(options_.weights.bias_init);
}

DepthwiseWeights Conv2D::depthwise_weights() const {
  return {weight_.value.data(), options_.weights.use_bias ? bias_.value.data() : nullptr,
          options_.filters / in_.c, relu_, relu6_};
}

PatchGeometry Conv2D::depthwise_geometry() const {
  PatchGeometry g = patch_;
  g.channels = in_.c;
  return g;
}

void Conv2D::forward(const Tensor& x, Tensor& y, const StepContext& /*ctx*/) {
  forward_into(x, y, nullptr);
}

bool Conv2D::can_apply_channel_map() const { return !depthwise_ && !relu_; }

void Conv2D::forward_mapped(const Tensor& x, Tensor& y, const StepContext& /*ctx*/,
                            const ChannelMap& map) {
  if (!can_apply_channel_map()) throw Error("conv2d: cannot apply the batch norm after it");
  forward_into(x, y, &map);
}

void Conv2D::forward_into(const Tensor& x, Tensor& y, const ChannelMap* map) {
  if (depthwise_) return depthwise_forward(depthwise_geometry(), depthwise_weights(), x, y);
  if (winograd_) return forward_winograd(x, y, map);
  if (whole_batch_) return forward_whole_batch(x, y, map);
  const std::int64_t n = x.shape().n, groups = options_.groups;
  const std::int64_t f = options_.filters, fg = f / groups, k = patch_.patch_size();
  const std::int64_t spatial = patch_.output_pixels();
  const std::int64_t group_input = patch_.channels * in_.h * in_.w;
  y.resize({n, f, rows_.out, cols_.out});
  const float* w = weight_.value.data();
  const std::int64_t band = forward_band_rows_, ow = cols_.out;
  parallel_chunks(n, kSampleChunk, [&](std::int64_t s0, std::int64_t s1) {
    AlignedVector<float> col(static_cast<std::size_t>(k * band * ow));
    for (std::int64_t s = s0; s < s1; ++s) {
      MatrixMap ys(y.data() + s * f * spatial, f, spatial);
      for (std::int64_t g = 0; g < groups; ++g) {
        const float* x_g = x.data() + s * in_.per_sample() + g * group_input;
        for (std::int64_t oy = 0; oy < rows_.out; oy += band) {
          const std::int64_t pixels = std::min(band, rows_.out - oy) * ow;
          im2col_rows(x_g, oy, pixels / ow, col.data());
          // (F/G, pixels) = W_g (F/G, K) · col (K, pixels), into the band's columns of y
          gemm(fg, pixels, k, {w + g * fg * k, k, 1}, col.data(), pixels,
               ys.data() + g * fg * spatial + oy * ow, spatial, false);
        }
      }
      if (options_.weights.use_bias)
        ys.colwise() += Eigen::Map<const Eigen::VectorXf>(bias_.value.data(), f);
      if (relu6_) {
        ys = ys.cwiseMax(0.f).cwiseMin(6.f);
      } else if (relu_) {
        ys = ys.cwiseMax(0.f);
      }
      if (map) {  // the following batch norm, while the sample's output is in cache
        for (std::int64_t o = 0; o < f; ++o)
          map->apply(o, ys.data() + o * spatial, ys.data() + o * spatial, spatial);
      }
    }
  });
}

void Conv2D::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) {
  backward_into(x, y, dy, &dx);
}

void Conv2D::backward_parameters(const Tensor& x, const Tensor& y, const Tensor& dy) {
  backward_into(x, y, dy, nullptr);
}

void Conv2D::backward_into(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  if (depthwise_) {
    return depthwise_backward(depthwise_geometry(), depthwise_weights(), x, y, dy,
                              weight_.grad.data(),
                              options_.weights.use_bias ? bias_.grad.data() : nullptr, dx);
  }
  if (winograd_) return backward_winograd(x, y, dy, dx);
  if (whole_batch_) return backward_whole_batch(x, y, dy, dx);
  const std::int64_t n = x.shape().n, groups = options_.groups;
  const std::int64_t f = options_.filters, fg = f / groups, k = patch_.patch_size();
  const std::int64_t spatial = patch_.output_pixels();
  const std::int64_t group_input = patch_.channels * in_.h * in_.w;
  if (dx) {
    dx->resize(x.shape());
    dx->fill(0.f);
  }
  const float* w = weight_.value.data();
  const std::int64_t chunks = (n + kSampleChunk - 1) / kSampleChunk;
  // One partial weight (and bias) gradient per chunk, summed below in chunk order.
  std::vector<float> partial_w(static_cast<std::size_t>(chunks * f * k), 0.f);
  std::vector<float> partial_b(static_cast<std::size_t>(chunks * f), 0.f);
  parallel_chunks(n, kSampleChunk, [&](std::int64_t s0, std::int64_t s1) {
    const std::int64_t chunk = s0 / kSampleChunk;
    AlignedVector<float> col(static_cast<std::size_t>(k * spatial)), dcol(col.size());
    AlignedVector<float> rectified(relu_ ? static_cast<std::size_t>(f * spatial) : 0);
    for (std::int64_t s = s0; s < s1; ++s) {
      const float* dy_s = through_relu(relu_, relu6_, y.data() + s * f * spatial,
                                       dy.data() + s * f * spatial, f * spatial, rectified.data());
      for (std::int64_t g = 0; g < groups; ++g) {
        const float* x_g = x.data() + s * in_.per_sample() + g * group_input;
        const float* dy_g = dy_s + g * fg * spatial;  // (F/G, OH·OW)
        im2col_sample(x_g, col.data(), spatial);
        MatrixMap dw(partial_w.data() + (chunk * f + g * fg) * k, fg, k);
        dw.noalias() += ConstMatrixMap(dy_g, fg, spatial) *
                        ConstMatrixMap(col.data(), k, spatial).transpose();  // dW_g += dy_g·colᵀ
        if (dx) {
          // dcol (K, OH·OW) = W_gᵀ · dy_g
          gemm(k, spatial, fg, {w + g * fg * k, 1, k}, dy_g, spatial, dcol.data(), spatial, false);
          col2im_add_sample(dcol.data(), spatial,
                            dx->data() + s * in_.per_sample() + g * group_input);
        }
      }
      if (options_.weights.use_bias)
        add_bias_sums(dy_s, 1, f, spatial, &partial_b[static_cast<std::size_t>(chunk * f)]);
    }
  });
  parallel_chunks(f * k, 1 << 14, [&](std::int64_t e0, std::int64_t e1) {
    add_chunk_sums(partial_w.data() + e0, chunks, f * k, e1 - e0, weight_.grad.data() + e0);
  });
  if (options_.weights.use_bias) add_chunk_sums(partial_b.data(), chunks, f, f, bias_.grad.data());
}

void Conv2D::im2col_sample(const float* x_chw, float* col, std::int64_t col_stride) const {
  if (table_.empty()) return im2col(patch_, x_chw, col, col_stride);
  table_.im2col(x_chw, col, col_stride);
}

void Conv2D::col2im_add_sample(const float* col, std::int64_t col_stride, float* dx_chw) const {
  if (table_.empty()) return col2im_add(patch_, col, col_stride, dx_chw);
  table_.col2im_add(col, col_stride, dx_chw);
}

void Conv2D::im2col_rows(const float* x_chw, std::int64_t first_row, std::int64_t rows,
                         float* col) const {
  if (rows == rows_.out) return im2col_sample(x_chw, col, patch_.output_pixels());
  // The band as a convolution of `rows` output rows whose padding starts first_row·stride rows
  // earlier (negative: the band starts inside the image).
  PatchGeometry band = patch_;
  band.rows.out = rows;
  band.rows.pad_before = patch_.rows.pad_before - first_row * patch_.strides.h;
  im2col(band, x_chw, col, rows * cols_.out);
}

void Conv2D::lower_batch(const Tensor& x) {
  const std::int64_t n = x.shape().n, k = patch_.patch_size();
  const std::int64_t spatial = patch_.output_pixels();
  const std::int64_t stride = padded_stride(n * spatial);
  col_.resize(static_cast<std::size_t>(k * stride));
  parallel_chunks(n, 1, [&](std::int64_t s0, std::int64_t s1) {
    for (std::int64_t s = s0; s < s1; ++s)
      im2col_sample(x.data() + s * in_.per_sample(), col_.data() + s * spatial, stride);
  });
}

void Conv2D::forward_whole_batch(const Tensor& x, Tensor& y, const ChannelMap* map) {
  const std::int64_t n = x.shape().n, f = options_.filters;
  const std::int64_t k = patch_.patch_size();
  const std::int64_t spatial = rows_.out * cols_.out, columns = n * spatial;
  const std::int64_t stride = padded_stride(columns);
  y.resize({n, f, rows_.out, cols_.out});
  lower_batch(x);
  product_.resize(static_cast<std::size_t>(f * stride));
  // (F, N·OH·OW) = W (F, K) · col (K, N·OH·OW)
  parallel_gemm(f, columns, k, {weight_.value.data(), k, 1}, col_.data(), stride, product_.data(),
                stride, false);
  const float* bias = options_.weights.use_bias ? bias_.value.data() : nullptr;
  parallel_chunks(n, 1, [&](std::int64_t s0, std::int64_t s1) {
    for (std::int64_t s = s0; s < s1; ++s) {
      for (std::int64_t o = 0; o < f; ++o) {
        const float* from = product_.data() + o * stride + s * spatial;
        float* to = y.data() + (s * f + o) * spatial;
        const float b = bias ? bias[o] : 0.f;
        for (std::int64_t p = 0; p < spatial; ++p) {
          const float v = from[p] + b;
          to[p] = relu6_ ? std::min(std::max(v, 0.f), 6.f) : relu_ ? std::max(v, 0.f) : v;
        }
        if (map) map->apply(o, to, to, spatial);
      }
    }
  });
}

void Conv2D::backward_whole_batch(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  const std::int64_t n = x.shape().n, f = options_.filters;
  const std::int64_t k = patch_.patch_size();
  const std::int64_t spatial = rows_.out * cols_.out, columns = n * spatial;
  const std::int64_t stride = padded_stride(columns), patch_stride = padded_stride(k);
  // The output gradient as one matrix (F, N·OH·OW), through the absorbed ReLU.
  product_.resize(static_cast<std::size_t>(f * stride));
  parallel_chunks(n, 1, [&](std::int64_t s0, std::int64_t s1) {
    for (std::int64_t s = s0; s < s1; ++s) {
      for (std::int64_t o = 0; o < f; ++o) {
        const std::int64_t at = (s * f + o) * spatial;
        float* to = product_.data() + o * stride + s * spatial;
        if (relu6_) {
          relu6_gradient(y.data() + at, dy.data() + at, spatial, to);
        } else if (relu_) {
          relu_gradient(y.data() + at, dy.data() + at, spatial, to);
        } else {
          std::copy_n(dy.data() + at, spatial, to);
        }
      }
    }
  });
  if (options_.weights.use_bias) {
    for (std::int64_t o = 0; o < f; ++o)
      bias_.grad[o] += lane_sum(product_.data() + o * stride, columns);
  }
  // dW (F, K) += dy (F, N·OH·OW) · colᵀ: colᵀ is B, so it is transposed into rows first.
  lower_batch(x);
  patches_.resize(static_cast<std::size_t>(columns * patch_stride));
  parallel_chunks(k, kBlockRows, [&](std::int64_t r0, std::int64_t r1) {
    transpose(col_.data() + r0 * stride, r1 - r0, columns, stride, patches_.data() + r0,
              patch_stride);
  });
  parallel_gemm(f, k, columns, {product_.data(), stride, 1}, patches_.data(), patch_stride,
                weight_.grad.data(), k, true);
  if (!dx) return;
  // dcol (K, N·OH·OW) = Wᵀ · dy, into col_ (its lowering is no longer needed), then back to the
  // pixels it came from.
  parallel_gemm(k, columns, f, {weight_.value.data(), 1, k}, product_.data(), stride, col_.data(),
                stride, false);
  dx->resize(x.shape());
  dx->fill(0.f);
  parallel_chunks(n, 1, [&](std::int64_t s0, std::int64_t s1) {
    for (std::int64_t s = s0; s < s1; ++s)
      col2im_add_sample(col_.data() + s * spatial, stride, dx->data() + s * in_.per_sample());
  });
}

void Conv2D::forward_winograd(const Tensor& x, Tensor& y, const ChannelMap* map) {
  const std::int64_t n = x.shape().n, f = options_.filters;
  y.resize({n, f, rows_.out, cols_.out});
  winograd_->transform_weights(weight_.value.data(), transformed_weight_.data());
  const float* bias = options_.weights.use_bias ? bias_.value.data() : nullptr;
  const std::int64_t group = std::min(kSampleChunk, winograd_->samples_per_group());
  if (winograd_batch_) {
    return winograd_->forward_batch(x.data(), n, transformed_weight_.data(), bias, relu_, map,
                                    y.data());
  }
  const std::int64_t in_size = in_.per_sample(), out_size = f * rows_.out * cols_.out;
  parallel_chunks(n, kSampleChunk, [&](std::int64_t s0, std::int64_t s1) {
    for (std::int64_t s = s0; s < s1; s += group) {
      const std::int64_t count = std::min(group, s1 - s);
      winograd_->forward(x.data() + s * in_size, count, transformed_weight_.data(), bias, relu_,
                         map, y.data() + s * out_size);
    }
  });
}

void Conv2D::backward_winograd(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  const std::int64_t n = x.shape().n, f = options_.filters;
  const std::int64_t spatial = rows_.out * cols_.out;
  const std::int64_t in_size = in_.per_sample(), out_size = f * spatial;
  if (dx) dx->resize(x.shape());
  // The weights have not changed since forward() transformed them; U is recomputed anyway so
  // that backward never depends on a forward call having happened first.
  winograd_->transform_weights(weight_.value.data(), transformed_weight_.data());
  const std::int64_t u_size = static_cast<std::int64_t>(transformed_weight_.size());
  AlignedVector<float> total_u(static_cast<std::size_t>(u_size), 0.f);
  if (winograd_batch_) {
    AlignedVector<float> rectified(relu_ ? static_cast<std::size_t>(n * out_size) : 0);
    const float* dy_all =
        through_relu(relu_, false, y.data(), dy.data(), n * out_size, rectified.data());
    if (options_.weights.use_bias) add_bias_sums(dy_all, n, f, spatial, bias_.grad.data());
    winograd_->backward_batch(x.data(), dy_all, n, transformed_weight_.data(), total_u.data(),
                              dx ? dx->data() : nullptr);
    winograd_->add_weight_gradient(total_u.data(), weight_.grad.data());
    return;
  }
  const std::int64_t chunks = (n + kSampleChunk - 1) / kSampleChunk;
  // One partial (transformed) weight gradient and bias gradient per chunk, summed in chunk order.
  AlignedVector<float> partial_u(static_cast<std::size_t>(chunks * u_size), 0.f);
  std::vector<float> partial_b(static_cast<std::size_t>(chunks * f), 0.f);
  const std::int64_t group = std::min(kSampleChunk, winograd_->samples_per_group());
  parallel_chunks(n, kSampleChunk, [&](std::int64_t s0, std::int64_t s1) {
    const std::int64_t chunk = s0 / kSampleChunk;
    AlignedVector<float> rectified(relu_ ? static_cast<std::size_t>(group * out_size) : 0);
    for (std::int64_t s = s0; s < s1; s += group) {
      const std::int64_t count = std::min(group, s1 - s);
      const float* dy_s =
          through_relu(relu_, false, y.data() + s * out_size, dy.data() + s * out_size,
                       count * out_size, rectified.data());
      if (options_.weights.use_bias)
        add_bias_sums(dy_s, count, f, spatial, &partial_b[static_cast<std::size_t>(chunk * f)]);
      winograd_->backward(x.data() + s * in_size, dy_s, count, transformed_weight_.data(),
                          partial_u.data() + chunk * u_size,
                          dx ? dx->data() + s * in_size : nullptr);
    }
  });
  add_chunk_sums(partial_u.data(), chunks, u_size, u_size, total_u.data());
  winograd_->add_weight_gradient(total_u.data(), weight_.grad.data());
  if (options_.weights.use_bias) add_chunk_sums(partial_b.data(), chunks, f, f, bias_.grad.data());
}

bool Conv2D::absorb_relu6() {
  if (winograd_) return false;
  relu_ = relu6_ = true;
  return true;
}

std::vector<Parameter*> Conv2D::parameters() {
  if (options_.weights.use_bias) return {&weight_, &bias_};
  return {&weight_};
}

std::unique_ptr<Layer> Conv2D::from_json(LayerOptions& o) {
  Conv2DOptions options;
  o.read("filters", options.filters);
  o.read("kernel_size", options.kernel);
  o.read("strides", options.strides);
  o.read("padding", options.padding);
  o.read("dilation", options.dilation);
  o.read("groups", options.groups);
  o.read("depth_multiplier", options.depth_multiplier);
  std::string algorithm = "auto";
  o.read("algorithm", algorithm);
  options.algorithm = parse_conv_algorithm(algorithm);
  o.read_weights(options.weights);
  return std::make_unique<Conv2D>(options);
}

Json Conv2D::config() const {
  Json config = {{"kernel_size", options_.kernel.to_json()},
                 {"strides", options_.strides.to_json()},
                 {"padding", padding_json(options_.padding)},
                 {"algorithm", conv_algorithm_name(options_.algorithm)}};
  if (options_.depth_multiplier > 0) {
    config["depth_multiplier"] = options_.depth_multiplier;
  } else {
    config["filters"] = options_.filters;
  }
  // Written only where they differ from 1, so configs of plain convolutions stay as they were.
  if (options_.dilation.h != 1 || options_.dilation.w != 1)
    config["dilation"] = options_.dilation.to_json();
  if (options_.groups != 1 && options_.depth_multiplier == 0) config["groups"] = options_.groups;
  options_.weights.add_to(config);
  return config;
}

}  // namespace kiln::nn
