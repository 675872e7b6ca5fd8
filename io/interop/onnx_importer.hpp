// kiln import's ONNX reader behind import_onnx (io/interop/onnx_import.hpp): one walk over the
// graph's nodes in order, each read into kiln layers and their weights. Its members are defined in
// two files: onnx_import.cpp walks the graph, folds constants, follows layouts and multi-node
// patterns, and builds the model; onnx_import_layers.cpp turns each op into its layer.
#pragma once

#include <onnx/onnx_pb.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "io/interop/onnx_folding.hpp"
#include "io/interop/onnx_import.hpp"
#include "io/interop/onnx_patterns.hpp"
#include "nn/error.hpp"
#include "nn/json.hpp"
#include "nn/model/model.hpp"

namespace kiln::io {

// What the importer reads, for its messages and `kiln import --help`.
inline constexpr const char* kOnnxImportOps =
    "Conv (grouped, dilated), Gemm, MatMul, BatchNormalization, Relu, LeakyRelu, Sigmoid, Tanh, "
    "Clip (as ReLU6 or ReLU), HardSigmoid, HardSwish, MaxPool, AveragePool, GlobalAveragePool, "
    "ReduceMean (over H and W), Flatten, Reshape, Dropout, Add, Mul, Concat, Pad (zeros), LRN, "
    "Resize and Upsample (whole factors), LayerNormalization (channels-last), "
    "Slice (of channels), Identity, Constant, Softmax (at the output); as chains: GELU (Div, Erf, "
    "Add, Mul, Mul), LayerNorm (ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add), a "
    "channel shuffle (Reshape, Transpose, Reshape), channels-last Transposes around LayerNorm, "
    "MatMul, Add and activations; on constants also Shape, Gather, Squeeze, Unsqueeze, "
    "Transpose, Cast, Add, Sub, Mul, Div";

class OnnxImporter {
 public:
  using Constant = OnnxConstant;

  OnnxImporter(std::string path, const OnnxImportOptions& options)
      : path_(std::move(path)), options_(options) {}

  nn::Model run();

 private:
  void read_model();

  // The one graph input that is not a weight (older exporters list the weights as inputs too).
  void find_input(const onnx::GraphProto& graph);

  [[noreturn]] void fail(const onnx::NodeProto& node, const std::string& what) const {
    throw Error(path_ + ": node '" + node.name() + "' (" + node.op_type() + "): " + what);
  }

  const onnx::AttributeProto* attribute(const onnx::NodeProto& node, const char* name) const {
    return onnx_attribute(node, name);
  }
  std::int64_t int_attr(const onnx::NodeProto& node, const char* name, std::int64_t fallback) {
    return onnx_int_attribute(node, name, fallback);
  }
  float float_attr(const onnx::NodeProto& node, const char* name, float fallback) {
    const auto* a = attribute(node, name);
    return a ? a->f() : fallback;
  }
  std::vector<std::int64_t> ints_attr(const onnx::NodeProto& node, const char* name,
                                      std::vector<std::int64_t> fallback) {
    const auto* a = attribute(node, name);
    return a ? std::vector<std::int64_t>(a->ints().begin(), a->ints().end()) : fallback;
  }

  const Constant* constant(const std::string& value) const {
    const auto it = constants_.find(value);
    return it == constants_.end() ? nullptr : &it->second;
  }
  const Constant& weight(const onnx::NodeProto& node, int k) const;
  // The kiln layer (or "input") that produces an ONNX value.
  const std::string& source(const onnx::NodeProto& node, const std::string& value) const {
    const auto it = values_.find(value);
    if (it == values_.end()) fail(node, "reads '" + value + "', which no supported node produced");
    return it->second;
  }

  // Appends a layer reading `inputs` and maps the node's first output to it.
  Json& add_layer(const onnx::NodeProto& node, Json layer, const std::vector<std::string>& inputs);
  void alias(const onnx::NodeProto& node, const std::string& value) {
    values_[node.output(0)] = source(node, value);
  }

  // A node reading a channels-last activation gives one too, but for the Transpose back.
  void add_node(const onnx::NodeProto& node);

  void read_node(const onnx::NodeProto& node, bool channels_last);

  // The ops that read one value: activations, pooling to one pixel, flatten, dropout, LRN.
  void single_input_layer(const onnx::NodeProto& node);

  // Reshape to (N, −1): a flatten. Exports with a fixed batch of one reshape the input to its own
  // size (CNTK: dropped), or flatten to (1, D).
  void reshape(const onnx::NodeProto& node, const std::vector<std::string>& in);

  // Sub/Add/Mul/Div of the input by a constant of one value or one per channel, before any layer
  // reads the input: the graph's own normalization (OnnxImportOptions::input_affine).
  bool folds_into_input(const onnx::NodeProto& node) const;

  void fold_input_affine(const onnx::NodeProto& node);

  // tf2onnx's graphs take NHWC images and transpose them to NCHW first: the input read as
  // (N, H, W, C) becomes kiln's (C, H, W) input (a --input given is already C H W).
  void nhwc_input(const onnx::NodeProto& node);

  // A node whose inputs are all constants becomes a constant (io/interop/onnx_folding.hpp); so
  // does the Shape of a layer's output, whose size is fixed once the input's is (its batch: 1).
  bool fold(const onnx::NodeProto& node);

  // The (1, C, H, W) size of an activation, for the patterns (no node to blame yet).
  std::vector<std::int64_t> shape_of(const std::string& value) {
    onnx::NodeProto reading;
    reading.set_name(value);
    return static_shape(reading, value);
  }

  // The (N = 1, C, H, W) or (1, D) size of a value a layer (or the input) produces.
  std::vector<std::int64_t> static_shape(const onnx::NodeProto& node, const std::string& value);

  // Padding [top, left, bottom, right] of a Conv or pool: pads, or auto_pad.
  Json padding(const onnx::NodeProto& node);

  void check_2d(const onnx::NodeProto& node, const std::vector<std::int64_t>& kernel) {
    if (kernel.size() != 2) fail(node, "kiln reads 2-D windows (kernel_shape of 2)");
  }

  void conv(const onnx::NodeProto& node);

  // Clip(0, 6) is ReLU6 (MobileNet v2), Clip(0, none) a ReLU; the bounds are attributes before
  // opset 11 and optional constant inputs since.
  void clip(const onnx::NodeProto& node, const std::vector<std::string>& in);

  // The mean over H and W: a global average pool (kept dimensions or not, kiln's (C, 1, 1) output
  // reads the same to a Flatten or Gemm after it).
  void reduce_mean(const onnx::NodeProto& node, const std::vector<std::string>& in);

  // The layer just added, when it produces `value` and nothing else reads it: a pattern's head
  // that the node being read may rewrite.
  Json* last_layer_read_once(const onnx::NodeProto& node, const std::string& value) {
    const auto it = layer_of_.find(source(node, value));
    const bool last = it != layer_of_.end() && it->second + 1 == layers_.size();
    return last && readers_[value] == 1 ? &layers_.back() : nullptr;
  }

  // x · σ(x) is SiLU and x · hard_sigmoid(x) (PyTorch's 1/6, 0.5) is HardSwish, as exporters
  // write them: the gate layer just added becomes the activation. Any other product of two
  // values is a multiply layer (squeeze-and-excitation's per-channel gate broadcasts).
  void multiply(const onnx::NodeProto& node);

  // A constant product right after a convolution or dense layer (ConvNeXt's layer scale, one
  // value per channel) scales its weights and bias.
  void scale_last_layer(const onnx::NodeProto& node);

  // A node that continues a multi-node pattern (io/interop/onnx_patterns.hpp); when it completes
  // one, the pattern's layer.
  bool pattern(const onnx::NodeProto& node);

  // ConvNeXt's Transposes: (0, 2, 3, 1) reads a layer's (N, C, H, W) output as (N, H, W, C), and
  // (0, 3, 1, 2) reads it back. Between them kiln keeps its own layout and reads the ops by axis.
  void transpose_activation(const onnx::NodeProto& node);

  // A node on a channels-last activation: a MatMul by a (C, F) weight is a 1x1 convolution, an
  // Add a bias or a sum, an activation itself. Patterns (LayerNorm, GELU) were read before.
  void channels_last_node(const onnx::NodeProto& node);

  // MatMul of a channels-last (N, H, W, C) value by a (C, F) weight: a 1x1 conv2d of F filters.
  void pointwise_conv(const onnx::NodeProto& node);

  // Opset 17's LayerNormalization over the last axis of a channels-last value: a layer_norm.
  void layer_normalization(const onnx::NodeProto& node);

  std::string string_attr(const onnx::NodeProto& node, const char* name, const char* fallback) {
    const auto* a = attribute(node, name);
    return a ? a->s() : fallback;
  }

  // Resize (opset 10 on) or Upsample (7 to 9) by whole factors of H and W: an upsample layer.
  // Nearest as PyTorch writes it (asymmetric, floor; half-pixel centres pick the same pixels at
  // whole factors), linear with half-pixel centres (align_corners=False). The factors come as
  // scales or as the output's sizes.
  void resize(const onnx::NodeProto& node);

  // A Slice of channels (axis 1, step 1): a channel_slice layer (ShuffleNet's split in two).
  // Bounds: inputs since opset 10, attributes before; negative ones count from the end.
  void slice(const onnx::NodeProto& node);

  // A Pad of zeros on H and W: a zero_pad2d layer (PyTorch writes one before an average pool
  // that counts its padding). Pads of zero pixels vanish.
  void pad(const onnx::NodeProto& node);

  // A dense layer from B of (inputs, units), or (units, inputs) when transposed.
  void dense(const onnx::NodeProto& node, const Constant& b, bool transposed, float scale);

  void gemm(const onnx::NodeProto& node);

  void matmul(const onnx::NodeProto& node) { dense(node, weight(node, 1), false, 1.f); }

  // Adds `bias` to the bias of the dense or conv layer just added (which may have none yet).
  void add_to_bias(const onnx::NodeProto& node, std::vector<float> bias);

  // The bias of the dense or conv layer just added, broadcast from one value if need be.
  void set_bias(const onnx::NodeProto& node, std::vector<float> bias);

  void add(const onnx::NodeProto& node);

  static constexpr float kZeroEpsilon = 1e-12f;

  void batch_norm(const onnx::NodeProto& node);

  void pool(const onnx::NodeProto& node);

  nn::Model build();

  void copy_weights(nn::Model& model, std::size_t i);

  void reverse_input_channels(nn::Model& model);

  std::string path_;
  OnnxImportOptions options_;
  onnx::ModelProto model_;
  nn::Shape input_;
  std::string output_;
  bool multi_label_ = false;  // kiln's export of a multi-label model: a Sigmoid ends it
  std::map<std::string, Constant> constants_;
  std::map<std::string, std::string> values_;  // ONNX value → kiln layer name or "input"
  std::map<std::string, int> readers_;         // ONNX value → how many nodes read it
  std::set<std::string> channels_last_;        // activations a Transpose turned (N, H, W, C)
  OnnxPatterns patterns_{{[this](const std::string& v) { return constant(v); },
                          [this](const std::string& v) { return values_.count(v) > 0; },
                          [this](const std::string& v) { return channels_last_.count(v) > 0; },
                          [this](const std::string& v) { return shape_of(v); }}};
  std::map<std::string, std::size_t> layer_of_;
  std::set<std::string> names_;
  std::map<std::string, int> suffix_;
  Json layers_ = Json::array();
  std::vector<std::map<std::string, std::vector<float>>> weights_;  // per layer, by name
};

}  // namespace kiln::io
