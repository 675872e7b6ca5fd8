// Conv2D: 2-D cross-correlation, as every framework's "convolution".
//   y[n, f, oy, ox] = b[f] + Σ_c Σ_i Σ_j w[f, c, i, j] · x[n, c, oy·sh − pt + i, ox·sw − pl + j]
//   x (N, C, H, W), weight (F, C, KH, KW), bias (F), y (N, F, OH, OW); zero outside the image.
// Two algorithms, chosen by the option "algorithm":
//   "gemm": im2col + GEMM: col (C·KH·KW, OH·OW), y[n] = W (F, C·KH·KW) · col. Any kernel and
//           stride. Per sample, but for large weights (over 512 KB) on small outputs (under 256
//           pixels): there one product per sample is thin and streams the weights from memory
//           once per sample, so the whole batch is lowered into one col (C·KH·KW, N·OH·OW) and
//           multiplied at once, the products split over blocks of their output
//           (nn/kernels/parallel_gemm.hpp).
//   "winograd": F(2×2, 3×3) (nn/layers/conv/winograd.hpp), 3×3 kernels at stride 1 only: 2.25× fewer
//           multiplications; results differ from "gemm" by rounding only (about 1e-6 relative).
//   "auto" (default): winograd where it applies, the layer has at least 16 input channels and
//           16 filters, and the output at least 25 pixels (with fewer channels its small GEMMs,
//           and with fewer tiles its weight transforms and gradient, lose more than the
//           multiplications save); else "gemm". Where "gemm" would lower the whole batch (large
//           weights, small outputs), winograd runs over the whole batch as well, from 16 output
//           pixels up (WinogradConv3x3::forward_batch).
// Groups (ResNeXt, RegNet; depthwise when groups = C, MobileNet): the channels split into G
// groups, and filter f sees only its group's C/G channels: weight (F, C/G, KH, KW), F divisible by
// G, as PyTorch and ONNX lay it out. Filter f's group is f / (F/G). Dilation d spaces the kernel's
// taps d pixels apart (nn/layers/conv/im2col.hpp). Both run the per-sample GEMM path, group by group,
// but depthwise layers (groups = C > 1), which run directly (nn/layers/conv/depthwise.hpp).
// fan_in = C/G·KH·KW, fan_out = F/G·KH·KW (Keras' convention for initializers).
// Options: filters, kernel_size (int or [h, w]), strides (default 1), padding ("valid", "same" or
// pixels: nn/layers/window.hpp), dilation (default 1), groups (default 1), algorithm ("auto" |
// "gemm" | "winograd"), init, bias_init, use_bias. depth_multiplier M instead of filters and
// groups (Keras' DepthwiseConv2D): groups = C and filters = C·M, whatever C the input has.
// Determinism: per sample, samples are processed in fixed chunks; each chunk sums its own weight
// gradient and the partial sums are added in chunk order. For the whole batch, each element of
// the weight gradient is one product's chain over the batch in order. Neither depends on the
// thread count.
#pragma once

#include <optional>

#include "nn/kernels/aligned_vector.hpp"
#include "nn/layer.hpp"
#include "nn/layers/conv/depthwise.hpp"
#include "nn/layers/conv/im2col.hpp"
#include "nn/layers/conv/winograd.hpp"
#include "nn/layers/weights.hpp"
#include "nn/layers/window.hpp"

namespace kiln::nn {

enum class ConvAlgorithm { kAuto, kGemm, kWinograd };
ConvAlgorithm parse_conv_algorithm(const std::string& text);  // throws kiln::Error naming conv2d
std::string conv_algorithm_name(ConvAlgorithm algorithm);

struct Conv2DOptions {
  std::int64_t filters = 0;
  Size2 kernel{3, 3};
  Size2 strides{1, 1};
  Padding padding = Padding::kValid;
  Size2 dilation{1, 1};
  std::int64_t groups = 1;
  std::int64_t depth_multiplier = 0;  // > 0: depthwise, filters and groups set by build()
  ConvAlgorithm algorithm = ConvAlgorithm::kAuto;
  WeightOptions weights;  // init, use_bias, bias_init, regularizers (nn/layers/weights.hpp)
};

class Conv2D final : public Layer, public FusesRelu, public AppliesChannelMap, public CountsMacs {
 public:
  explicit Conv2D(Conv2DOptions options);
  static constexpr std::string_view kType = "conv2d";

  std::string_view type() const override { return kType; }
  Shape build(const Shape& input) override;
  void initialize(Rng& rng) override;
  void forward(const Tensor& x, Tensor& y, const StepContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) override;
  void backward_parameters(const Tensor& x, const Tensor& y, const Tensor& dy) override;
  std::vector<Parameter*> parameters() override;
  void absorb_relu() override { relu_ = true; }
  bool absorb_relu6() override;  // not on the winograd path, which rectifies inside its transform
  // The batch norm after it, on every path but depthwise (and not after an absorbed ReLU).
  bool can_apply_channel_map() const override;
  void forward_mapped(const Tensor& x, Tensor& y, const StepContext& ctx,
                      const ChannelMap& map) override;
  Json config() const override;
  static std::unique_ptr<Layer> from_json(LayerOptions& options);
  // The algorithm build() chose: kGemm or kWinograd.
  ConvAlgorithm algorithm() const {
    return winograd_ ? ConvAlgorithm::kWinograd : ConvAlgorithm::kGemm;
  }
  // Whether build() chose to lower the whole batch into one product (kGemm only; see above).
  bool lowers_whole_batch() const { return whole_batch_; }
  // Whether build() chose winograd over the whole batch (WinogradConv3x3::forward_batch).
  bool winograd_over_batch() const { return winograd_batch_; }
  std::int64_t macs() const override {
    return patch_.output_pixels() * options_.filters * patch_.patch_size();
  }

 private:
  void lower_batch(const Tensor& x);  // col_ (C·KH·KW, N·OH·OW)
  // im2col and col2im_add of one group of one sample, through table_ where build() made one.
  void im2col_sample(const float* x_chw, float* col, std::int64_t col_stride) const;
  void col2im_add_sample(const float* col, std::int64_t col_stride, float* dx_chw) const;
  // col (C·KH·KW, rows·OW) for output rows [first_row, first_row + rows) of one group of a sample.
  void im2col_rows(const float* x_chw, std::int64_t first_row, std::int64_t rows, float* col) const;
  void forward_into(const Tensor& x, Tensor& y, const ChannelMap* map);  // map: null or applied
  void forward_whole_batch(const Tensor& x, Tensor& y, const ChannelMap* map);
  void backward_whole_batch(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx);
  void backward_into(const Tensor& x, const Tensor& y, const Tensor& dy,
                     Tensor* dx);  // dx null: parameters only
  void forward_winograd(const Tensor& x, Tensor& y, const ChannelMap* map);
  DepthwiseWeights depthwise_weights() const;
  PatchGeometry depthwise_geometry() const;  // patch_ over all C channels
  void backward_winograd(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx);

  Conv2DOptions options_;
  Shape in_;                                 // per sample
  Window1d rows_, cols_;                     // output geometry along H and W
  PatchGeometry patch_;                      // one group's lowering: C/G channels
  PatchTable table_;                         // patch_ as a table, for small outputs
  std::int64_t forward_band_rows_ = 0;       // output rows lowered at a time in forward()
  Parameter weight_;                         // (F, C, KH, KW)
  Parameter bias_;                           // (F)
  bool relu_ = false;                        // a following ReLU absorbed (FusesRelu)
  bool relu6_ = false;                       // ... a ReLU6 (relu_ is set too)
  std::optional<WinogradConv3x3> winograd_;  // set when build() chose winograd
  AlignedVector<float> transformed_weight_;  // winograd's U (16, F, C)
  bool whole_batch_ = false;                 // gemm over the whole batch (small outputs)
  bool winograd_batch_ = false;              // winograd over the whole batch (the same outputs)
  bool depthwise_ = false;                   // groups = C > 1: nn/layers/conv/depthwise.hpp
  // The whole-batch path's scratch, kept from step to step: the lowered batch, its transpose
  // (N·OH·OW, C·KH·KW), and the product or output gradient (F, N·OH·OW).
  AlignedVector<float> col_, patches_, product_;
};

}  // namespace kiln::nn
