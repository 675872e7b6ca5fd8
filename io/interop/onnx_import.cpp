#include "io/interop/onnx_import.hpp"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <vector>

#include "io/interop/onnx_folding.hpp"
#include "io/interop/onnx_patterns.hpp"
#include "nn/error.hpp"
#include "nn/layers/activations.hpp"

namespace kiln::io {
namespace {

// The "task" a kiln export records in the metadata; classification for other exporters' files.
nn::Task onnx_task(const onnx::ModelProto& model) {
  for (const auto& entry : model.metadata_props()) {
    if (entry.key() == "task") return nn::task_from_name(entry.value());
  }
  return nn::Task::kClassification;
}

constexpr const char* kSupportedOps =
    "Conv (grouped, dilated), Gemm, MatMul, BatchNormalization, Relu, LeakyRelu, Sigmoid, Tanh, "
    "Clip (as ReLU6 or ReLU), HardSigmoid, HardSwish, MaxPool, AveragePool, GlobalAveragePool, "
    "ReduceMean (over H and W), Flatten, Reshape, Dropout, Add, Mul, Concat, Pad (zeros), LRN, "
    "Resize and Upsample (whole factors), LayerNormalization (channels-last), "
    "Slice (of channels), Identity, Constant, Softmax (at the output); as chains: GELU (Div, Erf, "
    "Add, Mul, Mul), LayerNorm (ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add), a "
    "channel shuffle (Reshape, Transpose, Reshape), channels-last Transposes around LayerNorm, "
    "MatMul, Add and activations; on constants also Shape, Gather, Squeeze, Unsqueeze, "
    "Transpose, Cast, Add, Sub, Mul, Div";

using Constant = OnnxConstant;

// The module path of a node, as PyTorch's exporter names nodes ("/layer1/layer1.0/conv1/Conv" →
// "layer1.0.conv1": the op type dropped, a component dropped when the next one extends it).
std::string layer_name_of(const std::string& node_name) {
  std::vector<std::string> parts;
  std::stringstream in(node_name);
  for (std::string part; std::getline(in, part, '/');) {
    if (!part.empty()) parts.push_back(part);
  }
  if (parts.size() < 2) return node_name.find('/') == std::string::npos ? node_name : "";
  parts.pop_back();  // the op type
  std::string name;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const bool extended = i + 1 < parts.size() && parts[i + 1].starts_with(parts[i] + ".");
    if (!extended) name += (name.empty() ? "" : ".") + parts[i];
  }
  return name;
}

class Importer {
 public:
  Importer(std::string path, const OnnxImportOptions& options)
      : path_(std::move(path)), options_(options) {}

  nn::Model run() {
    read_model();
    const onnx::GraphProto& graph = model_.graph();
    for (const auto& t : graph.initializer()) constants_[t.name()] = read_onnx_tensor(t, path_);
    find_input(graph);
    if (graph.output_size() != 1) {
      throw Error(path_ + ": the graph has " + std::to_string(graph.output_size()) +
                  " outputs; kiln imports networks with one");
    }
    output_ = graph.output(0).name();
    multi_label_ = onnx_task(model_) == nn::Task::kMultiLabel;
    for (const auto& node : graph.node()) {
      for (const auto& in : node.input()) ++readers_[in];
    }
    for (const auto& node : graph.node()) add_node(node);
    return build();
  }

 private:
  void read_model() {
    std::ifstream in(path_, std::ios::binary);
    if (!in) throw Error(path_ + ": cannot open the file");
    if (!model_.ParseFromIstream(&in) || !model_.has_graph()) {
      throw Error(path_ + ": not an ONNX model (the protobuf does not parse as a ModelProto)");
    }
    // Opsets before 7 gave ops other meanings (Reshape's shape an attribute, BatchNormalization's
    // spatial and consumed inputs, broadcasting only by attribute).
    for (const auto& opset : model_.opset_import()) {
      const bool onnx_domain = opset.domain().empty() || opset.domain() == "ai.onnx";
      if (onnx_domain && opset.version() < 7) {
        throw Error(path_ + ": opset " + std::to_string(opset.version()) +
                    " is older than kiln reads (7 and later); convert the model with "
                    "onnx.version_converter.convert_version(model, 13)");
      }
    }
  }

  // The one graph input that is not a weight (older exporters list the weights as inputs too).
  void find_input(const onnx::GraphProto& graph) {
    const onnx::ValueInfoProto* input = nullptr;
    for (const auto& v : graph.input()) {
      if (constants_.contains(v.name())) continue;
      if (input != nullptr) {
        throw Error(path_ + ": the graph has several inputs ('" + input->name() + "', '" +
                    v.name() + "'); kiln imports networks with one image input");
      }
      input = &v;
    }
    if (input == nullptr) throw Error(path_ + ": the graph has no input");
    values_[input->name()] = "input";
    const auto& dims = input->type().tensor_type().shape().dim();
    if (options_.input) {
      input_ = *options_.input;
      return;
    }
    const bool fixed = dims.size() == 4 && std::all_of(dims.begin() + 1, dims.end(), [](auto& d) {
                         return d.has_dim_value() && d.dim_value() > 0;
                       });
    if (!fixed) {
      throw Error(path_ + ": the input '" + input->name() +
                  "' has no fixed (N, C, H, W) size; give it with --input C H W");
    }
    input_ = {1, dims[1].dim_value(), dims[2].dim_value(), dims[3].dim_value()};
  }

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
  const Constant& weight(const onnx::NodeProto& node, int k) const {
    if (node.input_size() <= k || node.input(k).empty())
      fail(node, "input " + std::to_string(k) + " is missing");
    const Constant* c = constant(node.input(k));
    if (c == nullptr) fail(node, "input '" + node.input(k) + "' must be a constant (a weight)");
    return *c;
  }
  // The kiln layer (or "input") that produces an ONNX value.
  const std::string& source(const onnx::NodeProto& node, const std::string& value) const {
    const auto it = values_.find(value);
    if (it == values_.end()) fail(node, "reads '" + value + "', which no supported node produced");
    return it->second;
  }

  // Appends a layer reading `inputs` and maps the node's first output to it.
  Json& add_layer(const onnx::NodeProto& node, Json layer, const std::vector<std::string>& inputs) {
    std::string name = layer_name_of(node.name());
    if (name.empty() || name == "input") name = layer.at("type").get<std::string>();
    for (std::string base = name; !names_.insert(name).second;) {
      name = base + "_" + std::to_string(++suffix_[base]);
    }
    layer["name"] = name;
    layer["inputs"] = inputs;
    layers_.push_back(std::move(layer));
    weights_.emplace_back();
    values_[node.output(0)] = name;
    layer_of_[name] = layers_.size() - 1;
    return layers_.back();
  }
  void alias(const onnx::NodeProto& node, const std::string& value) {
    values_[node.output(0)] = source(node, value);
  }

  // A node reading a channels-last activation gives one too, but for the Transpose back.
  void add_node(const onnx::NodeProto& node) {
    const bool channels_last =
        std::any_of(node.input().begin(), node.input().end(),
                    [&](const std::string& v) { return channels_last_.count(v) > 0; });
    read_node(node, channels_last);
    if (channels_last && node.op_type() != "Transpose") channels_last_.insert(node.output(0));
  }

  void read_node(const onnx::NodeProto& node, bool channels_last) {
    const std::string& op = node.op_type();
    if (!node.domain().empty() && node.domain() != "ai.onnx") {
      fail(node,
           "ops of domain '" + node.domain() + "' are not supported; supported: " + kSupportedOps);
    }
    if (op == "Constant") {
      const auto* value = attribute(node, "value");
      if (value == nullptr) fail(node, "only a tensor 'value' is supported");
      constants_[node.output(0)] = read_onnx_tensor(value->t(), path_);
      return;
    }
    if (node.input_size() == 0) fail(node, "has no input");
    if (fold(node)) return;
    const std::string& x = node.input(0);
    if (op == "Identity") {
      // PyTorch's exporter shares equal weights through Identity nodes.
      if (const Constant* c = constant(x)) {
        constants_[node.output(0)] = *c;
        return;
      }
      return alias(node, x);
    }
    if (op == "Softmax") {
      if (node.output(0) != output_) {
        fail(node,
             "a Softmax inside the network is not supported (at the output it is dropped: "
             "kiln's loss and predict apply it)");
      }
      output_ = x;
      return;
    }
    if (op == "Transpose" && values_.count(x) && values_.at(x) == "input") {
      return nhwc_input(node);
    }
    if (op == "Transpose" && values_.count(x)) return transpose_activation(node);
    if (pattern(node)) return;
    if (channels_last) return channels_last_node(node);
    if (op == "Conv") return conv(node);
    if (op == "Gemm") return gemm(node);
    if (op == "MatMul") return matmul(node);
    if (op == "BatchNormalization") return batch_norm(node);
    if (op == "MaxPool" || op == "AveragePool") return pool(node);
    if (folds_into_input(node)) return fold_input_affine(node);
    if (op == "Slice") return slice(node);
    if (op == "Add") return add(node);
    if (op == "Mul") return multiply(node);
    if (op == "Pad") return pad(node);
    if (op == "Resize" || op == "Upsample") return resize(node);
    if (op == "Concat") {
      if (int_attr(node, "axis", 1) != 1) fail(node, "kiln concatenates channels (axis 1) only");
      std::vector<std::string> inputs;
      for (const auto& in : node.input()) inputs.push_back(source(node, in));
      add_layer(node, {{"type", "concat"}}, inputs);
      return;
    }
    single_input_layer(node);
  }

  // The ops that read one value: activations, pooling to one pixel, flatten, dropout, LRN.
  void single_input_layer(const onnx::NodeProto& node) {
    const std::string& op = node.op_type();
    const std::string& x = node.input(0);
    const std::vector<std::string> in = {source(node, x)};
    if (op == "Sigmoid" && multi_label_ && node.output(0) == output_) {
      output_ = x;  // a multi-label model's outputs are logits in kiln, as a Softmax's are
      return;
    }
    if (op == "Relu" || op == "Sigmoid" || op == "Tanh") {
      add_layer(node, {{"type", op == "Relu" ? "relu" : op == "Sigmoid" ? "sigmoid" : "tanh"}}, in);
    } else if (op == "Clip") {
      clip(node, in);
    } else if (op == "HardSigmoid") {
      add_layer(node,
                {{"type", "hard_sigmoid"},
                 {"alpha", float_attr(node, "alpha", 0.2f)},
                 {"beta", float_attr(node, "beta", 0.5f)}},
                in);
    } else if (op == "HardSwish") {
      add_layer(node, {{"type", "hard_swish"}}, in);
    } else if (op == "ReduceMean") {
      reduce_mean(node, in);
    } else if (op == "LeakyRelu") {
      add_layer(node, {{"type", "leaky_relu"}, {"alpha", float_attr(node, "alpha", 0.01f)}}, in);
    } else if (op == "GlobalAveragePool") {
      add_layer(node, {{"type", "global_avg_pool2d"}}, in);
    } else if (op == "Flatten") {
      if (int_attr(node, "axis", 1) != 1) fail(node, "kiln flattens from axis 1 only");
      add_layer(node, {{"type", "flatten"}}, in);
    } else if (op == "Reshape") {
      reshape(node, in);
    } else if (op == "Dropout") {
      float ratio = float_attr(node, "ratio", 0.5f);  // opset < 12: an attribute
      if (node.input_size() > 1 && !node.input(1).empty()) ratio = weight(node, 1).values.at(0);
      add_layer(node, {{"type", "dropout"}, {"rate", ratio}}, in);
    } else if (op == "LRN") {
      const std::int64_t size = int_attr(node, "size", 0);
      if (size <= 0) fail(node, "needs its 'size'");
      add_layer(node,
                {{"type", "lrn"},
                 {"size", size},
                 {"alpha", float_attr(node, "alpha", 1e-4f) / static_cast<float>(size)},
                 {"beta", float_attr(node, "beta", 0.75f)},
                 {"k", float_attr(node, "bias", 1.f)}},
                in);
    } else {
      fail(node, "not supported; supported ops: " + std::string(kSupportedOps));
    }
  }

  // Reshape to (N, −1): a flatten. Exports with a fixed batch of one reshape the input to its own
  // size (CNTK: dropped), or flatten to (1, D).
  void reshape(const onnx::NodeProto& node, const std::vector<std::string>& in) {
    const auto& s = weight(node, 1).integers;
    const bool same_as_input = in[0] == "input" && s.size() == 4 && s[1] == input_.c &&
                               s[2] == input_.h && s[3] == input_.w;
    if (same_as_input) return alias(node, node.input(0));
    const bool batch = s.size() == 2 && (s[0] == 0 || s[0] == -1 || s[0] == 1);
    if (!batch || !(s[1] == -1 || s[1] > 0)) {
      fail(node, "kiln reshapes to (N, -1) only (a flatten)");
    }
    add_layer(node, {{"type", "flatten"}}, in);
  }

  // Sub/Add/Mul/Div of the input by a constant of one value or one per channel, before any layer
  // reads the input: the graph's own normalization (OnnxImportOptions::input_affine).
  bool folds_into_input(const onnx::NodeProto& node) const {
    const std::string& op = node.op_type();
    if (options_.input_affine == nullptr || node.input_size() != 2 ||
        !(op == "Sub" || op == "Add" || op == "Mul" || op == "Div")) {
      return false;
    }
    const bool from_input = values_.count(node.input(0)) && values_.at(node.input(0)) == "input";
    const Constant* c = constant(node.input(1));
    const bool read_before = std::any_of(layers_.begin(), layers_.end(), [](const Json& l) {
      const Json& in = l.at("inputs");
      return std::find(in.begin(), in.end(), "input") != in.end();
    });
    return from_input && c != nullptr && !read_before &&
           (c->count() == 1 || c->count() == input_.c);
  }

  void fold_input_affine(const onnx::NodeProto& node) {
    OnnxInputAffine& a = *options_.input_affine;
    const auto channels = static_cast<std::size_t>(input_.c);
    if (a.scale.empty()) a = {std::vector<float>(channels, 1.f), std::vector<float>(channels, 0.f)};
    std::vector<float> c = constant(node.input(1))->values;
    if (c.size() == 1) c.assign(channels, c[0]);
    if (options_.bgr_input) std::reverse(c.begin(), c.end());  // kiln's channels are RGB
    const std::string& op = node.op_type();
    for (std::size_t k = 0; k < channels; ++k) {
      if (op == "Sub") a.shift[k] -= c[k];
      if (op == "Add") a.shift[k] += c[k];
      if (op == "Mul" || op == "Div") {
        const float f = op == "Mul" ? c[k] : 1.f / c[k];
        if (!(f > 0.f) || !std::isfinite(f)) fail(node, "scales the input by a factor <= 0");
        a.scale[k] *= f;
        a.shift[k] *= f;
      }
    }
    alias(node, node.input(0));
  }

  // tf2onnx's graphs take NHWC images and transpose them to NCHW first: the input read as
  // (N, H, W, C) becomes kiln's (C, H, W) input (a --input given is already C H W).
  void nhwc_input(const onnx::NodeProto& node) {
    const auto perm = ints_attr(node, "perm", {});
    const bool read_before = std::any_of(layers_.begin(), layers_.end(), [](const Json& l) {
      const Json& in = l.at("inputs");
      return std::find(in.begin(), in.end(), "input") != in.end();
    });
    if (perm != std::vector<std::int64_t>{0, 3, 1, 2} || read_before) {
      fail(node, "kiln transposes only an NHWC input to NCHW (perm 0, 3, 1, 2), before any layer");
    }
    if (!options_.input) input_ = {1, input_.w, input_.c, input_.h};
    alias(node, node.input(0));
  }

  // A node whose inputs are all constants becomes a constant (io/interop/onnx_folding.hpp); so
  // does the Shape of a layer's output, whose size is fixed once the input's is (its batch: 1).
  bool fold(const onnx::NodeProto& node) {
    std::vector<const Constant*> inputs;
    for (const auto& in : node.input()) inputs.push_back(in.empty() ? nullptr : constant(in));
    std::optional<Constant> shape_of_layer;
    if (node.op_type() == "Shape" && inputs[0] == nullptr) {
      shape_of_layer = Constant{static_shape(node, node.input(0)), {}, {}};
      shape_of_layer->values.resize(static_cast<std::size_t>(shape_of_layer->count()));
      inputs[0] = &*shape_of_layer;
    }
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i] == nullptr && !node.input(static_cast<int>(i)).empty()) return false;
    }
    try {
      std::optional<Constant> folded = fold_onnx_node(node, inputs);
      if (!folded) return false;
      constants_[node.output(0)] = std::move(*folded);
    } catch (const Error& e) {
      fail(node, e.what());
    }
    return true;
  }

  // The (1, C, H, W) size of an activation, for the patterns (no node to blame yet).
  std::vector<std::int64_t> shape_of(const std::string& value) {
    onnx::NodeProto reading;
    reading.set_name(value);
    return static_shape(reading, value);
  }

  // The (N = 1, C, H, W) or (1, D) size of a value a layer (or the input) produces.
  std::vector<std::int64_t> static_shape(const onnx::NodeProto& node, const std::string& value) {
    const std::string& layer = source(node, value);
    nn::Shape s = input_;
    if (layer != "input") {
      const Json config = {{"input", {input_.c, input_.h, input_.w}}, {"layers", layers_}};
      s = nn::Model::from_config(config).layer_output_shape(layer_of_.at(layer));
    }
    if (s.h == 1 && s.w == 1) return {1, s.c};
    return {1, s.c, s.h, s.w};
  }

  // Padding [top, left, bottom, right] of a Conv or pool: pads, or auto_pad.
  Json padding(const onnx::NodeProto& node) {
    const auto* auto_pad = attribute(node, "auto_pad");
    const std::string mode = auto_pad ? auto_pad->s() : "NOTSET";
    if (mode == "SAME_UPPER") return "same";  // the extra pixel after, as kiln's "same"
    if (mode == "VALID") return "valid";
    if (mode != "NOTSET") fail(node, "auto_pad " + mode + " is not supported; use explicit pads");
    const auto pads = ints_attr(node, "pads", {0, 0, 0, 0});
    if (pads.size() != 4) fail(node, "kiln reads 2-D pads (4 values)");
    return Json(pads);
  }

  void check_2d(const onnx::NodeProto& node, const std::vector<std::int64_t>& kernel) {
    if (kernel.size() != 2) fail(node, "kiln reads 2-D windows (kernel_shape of 2)");
  }

  void conv(const onnx::NodeProto& node) {
    const Constant& w = weight(node, 1);
    if (w.dims.size() != 4) fail(node, "the weight must be 4-D (F, C / group, KH, KW)");
    const auto kernel = ints_attr(node, "kernel_shape", {w.dims[2], w.dims[3]});
    check_2d(node, kernel);
    const auto dilations = ints_attr(node, "dilations", {1, 1});
    if (dilations.size() != 2) fail(node, "kiln reads 2-D dilations");
    const bool bias = node.input_size() > 2 && !node.input(2).empty();
    Json layer = {{"type", "conv2d"},         {"filters", w.dims[0]},
                  {"kernel_size", kernel},    {"strides", ints_attr(node, "strides", {1, 1})},
                  {"padding", padding(node)}, {"use_bias", bias}};
    if (dilations != std::vector<std::int64_t>{1, 1}) layer["dilation"] = dilations;
    if (const std::int64_t groups = int_attr(node, "group", 1); groups != 1)
      layer["groups"] = groups;
    add_layer(node, std::move(layer), {source(node, node.input(0))});
    auto& arrays = weights_.back();
    arrays["weight"] = w.values;
    if (bias) arrays["bias"] = weight(node, 2).values;
  }

  // Clip(0, 6) is ReLU6 (MobileNet v2), Clip(0, none) a ReLU; the bounds are attributes before
  // opset 11 and optional constant inputs since.
  void clip(const onnx::NodeProto& node, const std::vector<std::string>& in) {
    constexpr float kNone = std::numeric_limits<float>::infinity();
    float lo = float_attr(node, "min", -kNone), hi = float_attr(node, "max", kNone);
    if (node.input_size() > 1 && !node.input(1).empty()) lo = weight(node, 1).values.at(0);
    if (node.input_size() > 2 && !node.input(2).empty()) hi = weight(node, 2).values.at(0);
    if (lo == 0.f && hi == 6.f) {
      add_layer(node, {{"type", "relu6"}}, in);
    } else if (lo == 0.f && hi == kNone) {
      add_layer(node, {{"type", "relu"}}, in);
    } else {
      fail(node, "clips to [" + std::to_string(lo) + ", " + std::to_string(hi) +
                     "]; kiln reads Clip as ReLU6 (0, 6) or ReLU (0, no maximum) only");
    }
  }

  // The mean over H and W: a global average pool (kept dimensions or not, kiln's (C, 1, 1) output
  // reads the same to a Flatten or Gemm after it).
  void reduce_mean(const onnx::NodeProto& node, const std::vector<std::string>& in) {
    std::vector<std::int64_t> axes = ints_attr(node, "axes", {});
    if (node.input_size() > 1 && !node.input(1).empty()) axes = weight(node, 1).integers;
    for (std::int64_t& a : axes) a = a < 0 ? a + 4 : a;
    std::sort(axes.begin(), axes.end());
    if (axes != std::vector<std::int64_t>{2, 3}) fail(node, "kiln averages over H and W only");
    add_layer(node, {{"type", "global_avg_pool2d"}}, in);
  }

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
  void multiply(const onnx::NodeProto& node) {
    if (node.input_size() != 2) fail(node, "needs two inputs");
    if (constant(node.input(0)) || constant(node.input(1))) return scale_last_layer(node);
    for (int gate = 0; gate < 2; ++gate) {
      const std::string& x = source(node, node.input(1 - gate));
      Json* head = last_layer_read_once(node, node.input(gate));
      if (head == nullptr || head->at("inputs") != Json::array({x})) continue;
      const bool hard =
          head->at("type") == "hard_sigmoid" &&
          head->at("alpha").get<float>() == nn::ElementwiseActivation::kHardSigmoidAlpha &&
          head->at("beta").get<float>() == 0.5f;
      if (head->at("type") != "sigmoid" && !hard) continue;
      *head = {{"type", hard ? "hard_swish" : "silu"},
               {"name", head->at("name")},
               {"inputs", head->at("inputs")}};
      values_[node.output(0)] = head->at("name").get<std::string>();
      return;
    }
    add_layer(node, {{"type", "multiply"}},
              {source(node, node.input(0)), source(node, node.input(1))});
  }

  // A constant product right after a convolution or dense layer (ConvNeXt's layer scale, one
  // value per channel) scales its weights and bias.
  void scale_last_layer(const onnx::NodeProto& node) {
    const int k = constant(node.input(0)) ? 0 : 1;
    const std::string& x = node.input(1 - k);
    Json* layer = last_layer_read_once(node, x);
    const std::string type = layer ? layer->at("type").get<std::string>() : "";
    if (type != "conv2d" && type != "dense") {
      fail(node,
           "multiplying by a constant is supported on the input before any layer (its "
           "normalization) or right after a Conv, Gemm or MatMul (a scale per output)");
    }
    const auto units = layer->at(type == "dense" ? "units" : "filters").get<std::size_t>();
    std::vector<float> scale = constant(node.input(k))->values;
    if (scale.size() == 1) scale.assign(units, scale[0]);
    if (scale.size() != units) {
      fail(node, "a scale of " + std::to_string(scale.size()) + " values for " +
                     std::to_string(units) + " outputs");
    }
    auto& arrays = weights_.back();
    std::vector<float>& w = arrays.at("weight");
    const std::size_t per_output = w.size() / units;
    for (std::size_t u = 0; u < units; ++u)
      for (std::size_t i = 0; i < per_output; ++i) w[u * per_output + i] *= scale[u];
    if (arrays.count("bias"))
      for (std::size_t u = 0; u < units; ++u) arrays["bias"][u] *= scale[u];
    values_[node.output(0)] = source(node, x);
  }

  // A node that continues a multi-node pattern (io/interop/onnx_patterns.hpp); when it completes
  // one, the pattern's layer.
  bool pattern(const onnx::NodeProto& node) {
    std::optional<std::optional<OnnxPatternLayer>> taken;
    try {
      taken = patterns_.read(node);
    } catch (const Error& e) {
      fail(node, e.what());
    }
    if (!taken) return false;
    if (const auto& layer = *taken) {
      add_layer(node, layer->layer, {source(node, layer->input)});
      for (const auto& [name, values] : layer->arrays) weights_.back()[name] = values;
    }
    return true;
  }

  // ConvNeXt's Transposes: (0, 2, 3, 1) reads a layer's (N, C, H, W) output as (N, H, W, C), and
  // (0, 3, 1, 2) reads it back. Between them kiln keeps its own layout and reads the ops by axis.
  void transpose_activation(const onnx::NodeProto& node) {
    const auto perm = ints_attr(node, "perm", {});
    const bool last = channels_last_.count(node.input(0)) > 0;
    if (!last && perm == std::vector<std::int64_t>{0, 2, 3, 1}) {
      channels_last_.insert(node.output(0));
    } else if (!(last && perm == std::vector<std::int64_t>{0, 3, 1, 2})) {
      fail(node, "kiln transposes an activation only to channels-last (0, 2, 3, 1) and back");
    }
    alias(node, node.input(0));
  }

  // A node on a channels-last activation: a MatMul by a (C, F) weight is a 1x1 convolution, an
  // Add a bias or a sum, an activation itself. Patterns (LayerNorm, GELU) were read before.
  void channels_last_node(const onnx::NodeProto& node) {
    const std::string& op = node.op_type();
    if (op == "MatMul") return pointwise_conv(node);
    if (op == "Add") return add(node);
    if (op == "LayerNormalization") return layer_normalization(node);
    const bool elementwise = op == "Relu" || op == "Sigmoid" || op == "Tanh" || op == "Clip" ||
                             op == "HardSigmoid" || op == "HardSwish" || op == "LeakyRelu";
    if (elementwise) return single_input_layer(node);
    fail(node,
         "reads a channels-last value (after a Transpose); kiln reads MatMul, Add, activations, "
         "LayerNorm and GELU there");
  }

  // MatMul of a channels-last (N, H, W, C) value by a (C, F) weight: a 1x1 conv2d of F filters.
  void pointwise_conv(const onnx::NodeProto& node) {
    const Constant& b = weight(node, 1);
    if (b.dims.size() != 2) fail(node, "the weight must be 2-D (C, F)");
    const std::int64_t inputs = b.dims[0], filters = b.dims[1];
    std::vector<float> w(b.values.size());
    for (std::int64_t f = 0; f < filters; ++f)
      for (std::int64_t c = 0; c < inputs; ++c) w[f * inputs + c] = b.values[c * filters + f];
    add_layer(node,
              {{"type", "conv2d"}, {"filters", filters}, {"kernel_size", 1}, {"use_bias", false}},
              {source(node, node.input(0))});
    weights_.back()["weight"] = std::move(w);
  }

  // Opset 17's LayerNormalization over the last axis of a channels-last value: a layer_norm.
  void layer_normalization(const onnx::NodeProto& node) {
    const std::int64_t axis = int_attr(node, "axis", -1);
    if (axis != -1 && axis != 3)
      fail(node, "kiln normalizes over the channels (the last axis) only");
    add_layer(node, {{"type", "layer_norm"}, {"epsilon", float_attr(node, "epsilon", 1e-5f)}},
              {source(node, node.input(0))});
    weights_.back()["gamma"] = weight(node, 1).values;
    if (node.input_size() > 2 && !node.input(2).empty()) {
      weights_.back()["beta"] = weight(node, 2).values;
    } else {
      weights_.back()["beta"] = std::vector<float>(weight(node, 1).values.size(), 0.f);
    }
  }

  std::string string_attr(const onnx::NodeProto& node, const char* name, const char* fallback) {
    const auto* a = attribute(node, name);
    return a ? a->s() : fallback;
  }

  // Resize (opset 10 on) or Upsample (7 to 9) by whole factors of H and W: an upsample layer.
  // Nearest as PyTorch writes it (asymmetric, floor; half-pixel centres pick the same pixels at
  // whole factors), linear with half-pixel centres (align_corners=False). The factors come as
  // scales or as the output's sizes.
  void resize(const onnx::NodeProto& node) {
    const bool upsample = node.op_type() == "Upsample";
    const std::string mode = string_attr(node, "mode", "nearest");
    const std::string centres =
        upsample ? "asymmetric" : string_attr(node, "coordinate_transformation_mode", "half_pixel");
    const std::string rounding =
        upsample ? "floor" : string_attr(node, "nearest_mode", "round_prefer_floor");
    std::vector<float> scales;
    if (const auto* a = attribute(node, "scales"))
      scales.assign(a->floats().begin(), a->floats().end());
    const int scales_input = upsample || node.input_size() == 2 ? 1 : 2;
    const Constant* given = node.input_size() > scales_input && !node.input(scales_input).empty()
                                ? &weight(node, scales_input)
                                : nullptr;
    if (given != nullptr && given->count() > 0) {
      scales = given->values;
    } else if (node.input_size() > 3 && !node.input(3).empty()) {
      const std::vector<std::int64_t> in = static_shape(node, node.input(0));
      const std::vector<std::int64_t>& sizes = weight(node, 3).integers;
      if (in.size() != 4 || sizes.size() != 4) fail(node, "kiln resizes (N, C, H, W) values");
      scales = {1.f, 1.f, static_cast<float>(sizes[2]) / static_cast<float>(in[2]),
                static_cast<float>(sizes[3]) / static_cast<float>(in[3])};
    }
    const auto whole = [](float f) { return f >= 1.f && f == std::floor(f); };
    if (scales.size() != 4 || scales[0] != 1.f || scales[1] != 1.f || !whole(scales[2]) ||
        !whole(scales[3])) {
      fail(node, "kiln enlarges H and W by whole factors only");
    }
    const bool half_pixel = centres == "half_pixel" || centres == "pytorch_half_pixel";
    const bool nearest =
        mode == "nearest" && (half_pixel || (centres == "asymmetric" && rounding == "floor"));
    const bool linear = (mode == "linear" || mode == "bilinear") && half_pixel;
    if (!nearest && !linear) {
      fail(node, "mode " + mode + " with coordinate_transformation_mode " + centres +
                     " is not supported; kiln reads nearest (asymmetric floor, or half_pixel) and "
                     "linear with half_pixel centres (align_corners=False)");
    }
    add_layer(
        node,
        {{"type", "upsample"},
         {"size", {static_cast<std::int64_t>(scales[2]), static_cast<std::int64_t>(scales[3])}},
         {"interpolation", nearest ? "nearest" : "bilinear"}},
        {source(node, node.input(0))});
  }

  // A Slice of channels (axis 1, step 1): a channel_slice layer (ShuffleNet's split in two).
  // Bounds: inputs since opset 10, attributes before; negative ones count from the end.
  void slice(const onnx::NodeProto& node) {
    const auto input_or = [&](int k, const char* name, std::vector<std::int64_t> fallback) {
      if (node.input_size() > k && !node.input(k).empty()) return weight(node, k).integers;
      return ints_attr(node, name, std::move(fallback));
    };
    const auto starts = input_or(1, "starts", {}), ends = input_or(2, "ends", {});
    const auto axes = input_or(3, "axes", {1}), steps = input_or(4, "steps", {1});
    const bool channels = starts.size() == 1 && ends.size() == 1 && axes.size() == 1 &&
                          (axes[0] == 1 || axes[0] == -3) && steps == std::vector<std::int64_t>{1};
    if (!channels) fail(node, "kiln slices channels only (axis 1, step 1)");
    const std::int64_t c = static_shape(node, node.input(0)).at(1);
    const auto bound = [c](std::int64_t v) {
      return std::clamp<std::int64_t>(v < 0 ? v + c : v, 0, c);
    };
    add_layer(node,
              {{"type", "channel_slice"}, {"begin", bound(starts[0])}, {"end", bound(ends[0])}},
              {source(node, node.input(0))});
  }

  // A Pad of zeros on H and W: a zero_pad2d layer (PyTorch writes one before an average pool
  // that counts its padding). Pads of zero pixels vanish.
  void pad(const onnx::NodeProto& node) {
    const auto* mode = attribute(node, "mode");
    if (mode != nullptr && mode->s() != "constant") fail(node, "kiln pads with zeros only");
    std::vector<std::int64_t> pads = ints_attr(node, "pads", {});  // before opset 11
    if (node.input_size() > 1 && !node.input(1).empty()) pads = weight(node, 1).integers;
    float value = float_attr(node, "value", 0.f);
    if (node.input_size() > 2 && !node.input(2).empty()) value = weight(node, 2).values.at(0);
    if (pads.size() != 8 || value != 0.f)
      fail(node, "kiln pads H and W of an NCHW value with zeros");
    const bool batch_or_channels = pads[0] || pads[1] || pads[4] || pads[5];
    const bool negative = std::any_of(pads.begin(), pads.end(), [](auto p) { return p < 0; });
    if (batch_or_channels || negative) {
      fail(node, "kiln pads H and W only, by pixels >= 0");
    }
    if (std::all_of(pads.begin(), pads.end(), [](auto p) { return p == 0; })) {
      return alias(node, node.input(0));
    }
    add_layer(node, {{"type", "zero_pad2d"}, {"padding", {pads[2], pads[3], pads[6], pads[7]}}},
              {source(node, node.input(0))});
  }

  // A dense layer from B of (inputs, units), or (units, inputs) when transposed.
  void dense(const onnx::NodeProto& node, const Constant& b, bool transposed, float scale) {
    if (b.dims.size() != 2) fail(node, "the weight must be 2-D");
    const std::int64_t units = transposed ? b.dims[0] : b.dims[1];
    const std::int64_t inputs = transposed ? b.dims[1] : b.dims[0];
    std::vector<float> w(b.values.size());
    for (std::int64_t u = 0; u < units; ++u) {
      for (std::int64_t i = 0; i < inputs; ++i) {
        w[u * inputs + i] = scale * b.values[transposed ? u * inputs + i : i * units + u];
      }
    }
    add_layer(node, {{"type", "dense"}, {"units", units}, {"use_bias", false}},
              {source(node, node.input(0))});
    weights_.back()["weight"] = std::move(w);
  }

  void gemm(const onnx::NodeProto& node) {
    if (int_attr(node, "transA", 0) != 0) fail(node, "transA = 1 is not supported");
    dense(node, weight(node, 1), int_attr(node, "transB", 0) != 0, float_attr(node, "alpha", 1.f));
    if (node.input_size() > 2 && !node.input(2).empty()) {
      std::vector<float> bias = weight(node, 2).values;
      const float beta = float_attr(node, "beta", 1.f);
      for (float& v : bias) v *= beta;
      set_bias(node, std::move(bias));
    }
  }

  void matmul(const onnx::NodeProto& node) { dense(node, weight(node, 1), false, 1.f); }

  // Adds `bias` to the bias of the dense or conv layer just added (which may have none yet).
  void add_to_bias(const onnx::NodeProto& node, std::vector<float> bias) {
    Json& layer = layers_.back();
    const auto units =
        layer.at(layer.at("type") == "dense" ? "units" : "filters").get<std::size_t>();
    if (bias.size() == 1) bias.assign(units, bias[0]);
    auto& arrays = weights_.back();
    if (bias.size() == units && layer.at("use_bias").get<bool>()) {
      for (std::size_t k = 0; k < units; ++k) bias[k] += arrays.at("bias")[k];
    }
    set_bias(node, std::move(bias));
  }

  // The bias of the dense or conv layer just added, broadcast from one value if need be.
  void set_bias(const onnx::NodeProto& node, std::vector<float> bias) {
    Json& layer = layers_.back();
    const auto units =
        layer.at(layer.at("type") == "dense" ? "units" : "filters").get<std::size_t>();
    if (bias.size() == 1) bias.assign(units, bias[0]);
    if (bias.size() != units) {
      fail(node, "a bias of " + std::to_string(bias.size()) + " values for " +
                     std::to_string(units) + " units");
    }
    layer["use_bias"] = true;
    weights_.back()["bias"] = std::move(bias);
  }

  void add(const onnx::NodeProto& node) {
    if (node.input_size() != 2) fail(node, "needs two inputs");
    const Constant* c0 = constant(node.input(0));
    const Constant* c1 = constant(node.input(1));
    if (c0 == nullptr && c1 == nullptr) {
      add_layer(node, {{"type", "add"}},
                {source(node, node.input(0)), source(node, node.input(1))});
      return;
    }
    // A constant added to a MatMul or a Conv just before: that layer's bias (MatMul + Add is how
    // some exporters write a fully connected layer; CNTK adds a convolution's (C, 1, 1) bias so).
    const std::string& x = c0 ? node.input(1) : node.input(0);
    const std::string& producer = source(node, x);
    const auto it = layer_of_.find(producer);
    const bool last = it != layer_of_.end() && it->second + 1 == layers_.size() && readers_[x] == 1;
    const std::string type = last ? layers_.back().at("type").get<std::string>() : "";
    if (type != "dense" && type != "conv2d") {
      fail(node, "adding a constant is supported only as the bias of a MatMul, Gemm or Conv");
    }
    add_to_bias(node, (c0 ? c0 : c1)->values);
    values_[node.output(0)] = producer;
  }

  static constexpr float kZeroEpsilon = 1e-12f;

  void batch_norm(const onnx::NodeProto& node) {
    if (int_attr(node, "training_mode", 0) != 0) fail(node, "training_mode must be 0");
    const Constant &gamma = weight(node, 1), &beta = weight(node, 2), &mean = weight(node, 3),
                   &var = weight(node, 4);
    // ONNX's momentum weighs the running value, as kiln's; PyTorch exports 1 − its own.
    // An epsilon of 0 is valid ONNX (kiln's own exports write the input normalization so) but not
    // a kiln batch_norm, which must stay finite on a batch of one value: 1e-12 stands in, which
    // changes no float result for variances above 1e-5.
    float epsilon = float_attr(node, "epsilon", 1e-5f);
    if (epsilon == 0.f) epsilon = kZeroEpsilon;
    add_layer(node,
              {{"type", "batch_norm"},
               {"epsilon", epsilon},
               {"momentum", float_attr(node, "momentum", 0.9f)}},
              {source(node, node.input(0))});
    auto& arrays = weights_.back();
    arrays["gamma"] = gamma.values;
    arrays["beta"] = beta.values;
    arrays["running_mean"] = mean.values;
    arrays["running_var"] = var.values;
  }

  void pool(const onnx::NodeProto& node) {
    const bool max = node.op_type() == "MaxPool";
    const auto kernel = ints_attr(node, "kernel_shape", {});
    check_2d(node, kernel);
    if (ints_attr(node, "dilations", {1, 1}) != std::vector<std::int64_t>{1, 1})
      fail(node, "pooling with dilations other than 1 is not supported");
    const auto strides = ints_attr(node, "strides", {1, 1});
    Json pads = padding(node);
    if (max && int_attr(node, "storage_order", 0) != 0)
      fail(node, "storage_order 1 is not supported");
    if (node.output_size() > 1 && !node.output(1).empty())
      fail(node, "the indices output is not supported");
    if (int_attr(node, "ceil_mode", 0) != 0) {
      if (!pads.is_array()) fail(node, "ceil_mode with auto_pad is not supported");
      // ceil((in + pads − k) / s) + 1 windows: pad after by s − 1 and take the floor. The extra
      // windows start inside the image or its stated padding, and padding never counts in kiln.
      pads[2] = pads[2].get<std::int64_t>() + strides[0] - 1;
      pads[3] = pads[3].get<std::int64_t>() + strides[1] - 1;
    }
    const bool padded =
        pads == "same" || (pads.is_array() && std::any_of(pads.begin(), pads.end(),
                                                          [](const Json& p) { return p != 0; }));
    if (!max && padded && int_attr(node, "count_include_pad", 0) != 0) {
      fail(node,
           "count_include_pad = 1 with padding is not supported (kiln averages only the "
           "pixels inside the image)");
    }
    add_layer(node,
              {{"type", max ? "max_pool2d" : "avg_pool2d"},
               {"pool_size", kernel},
               {"strides", strides},
               {"padding", pads}},
              {source(node, node.input(0))});
  }

  nn::Model build() {
    const std::string& out = values_.count(output_) ? values_.at(output_) : std::string();
    if (out.empty() || out == "input") {
      throw Error(path_ + ": the graph output '" + output_ + "' is not computed by any layer");
    }
    if (layers_.empty() || layers_.back().at("name") != out) {
      onnx::NodeProto alias;
      alias.set_name("output");
      alias.add_output("kiln:output");
      add_layer(alias, {{"type", "identity"}}, {out});
    }
    const Json config = {{"input", {input_.c, input_.h, input_.w}}, {"layers", layers_}};
    nn::Model model;
    try {
      model = nn::Model::from_config(config);
    } catch (const Error& e) {
      throw Error(path_ + ": the imported graph does not fit the input " + input_.str() + ": " +
                  e.what() +
                  (options_.input ? "" : "; give the size it was exported for with --input"));
    }
    for (std::size_t i = 0; i < layers_.size(); ++i) copy_weights(model, i);
    if (options_.bgr_input) reverse_input_channels(model);
    return model;
  }

  void copy_weights(nn::Model& model, std::size_t i) {
    nn::Layer& layer = model.layer(i);
    auto fill = [&](const std::string& name, nn::Tensor& t) {
      const auto it = weights_[i].find(name);
      if (it == weights_[i].end()) return;
      if (static_cast<std::int64_t>(it->second.size()) != t.size()) {
        throw Error(path_ + ": layer '" + model.layer_name(i) + "': its " + name + " has " +
                    std::to_string(it->second.size()) + " values in the ONNX file, " +
                    std::to_string(t.size()) + " here (shape " + t.shape().str() +
                    ") on the input " + input_.str() + "; give the input size it was exported for");
      }
      std::copy(it->second.begin(), it->second.end(), t.data());
    };
    for (nn::Parameter* p : layer.parameters()) fill(p->name, p->value);
    for (nn::Buffer* b : layer.buffers()) fill(b->name, b->value);
  }

  void reverse_input_channels(nn::Model& model) {
    for (std::size_t i = 0; i < model.size(); ++i) {
      const auto& inputs = model.graph().nodes()[i].inputs;
      if (std::find(inputs.begin(), inputs.end(), nn::LayerGraph::kModelInput) == inputs.end()) {
        continue;
      }
      if (model.layer(i).type() != "conv2d") {
        throw Error(path_ + ": BGR input: layer '" + model.layer_name(i) +
                    "' reads the image but is not a convolution, whose channels kiln reorders");
      }
      nn::Tensor& w = model.layer(i).parameters()[0]->value;
      const nn::Shape s = w.shape();
      const std::int64_t plane = s.h * s.w;
      for (std::int64_t f = 0; f < s.n; ++f) {
        float* filter = w.data() + f * s.c * plane;
        for (std::int64_t c = 0; c < s.c / 2; ++c) {
          std::swap_ranges(filter + c * plane, filter + (c + 1) * plane,
                           filter + (s.c - 1 - c) * plane);
        }
      }
    }
  }

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

}  // namespace

nn::Task onnx_task(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  onnx::ModelProto model;
  if (!in || !model.ParseFromIstream(&in)) throw Error(path + ": not an ONNX model");
  return onnx_task(model);
}

nn::Model import_onnx(const std::string& path, const OnnxImportOptions& options) {
  return Importer(path, options).run();
}

const char* onnx_import_ops() { return kSupportedOps; }

}  // namespace kiln::io
