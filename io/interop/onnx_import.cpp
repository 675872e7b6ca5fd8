#include "io/interop/onnx_import.hpp"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <vector>

#include "io/interop/onnx_importer.hpp"
#include "nn/error.hpp"

namespace kiln::io {
namespace {

// The "task" a kiln export records in the metadata; classification for other exporters' files.
nn::Task onnx_task(const onnx::ModelProto& model) {
  for (const auto& entry : model.metadata_props()) {
    if (entry.key() == "task") return nn::task_from_name(entry.value());
  }
  return nn::Task::kClassification;
}

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
}  // namespace

nn::Model OnnxImporter::run() {
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

void OnnxImporter::read_model() {
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

void OnnxImporter::find_input(const onnx::GraphProto& graph) {
  const onnx::ValueInfoProto* input = nullptr;
  for (const auto& v : graph.input()) {
    if (constants_.contains(v.name())) continue;
    if (input != nullptr) {
      throw Error(path_ + ": the graph has several inputs ('" + input->name() + "', '" + v.name() +
                  "'); kiln imports networks with one image input");
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

const OnnxConstant& OnnxImporter::weight(const onnx::NodeProto& node, int k) const {
  if (node.input_size() <= k || node.input(k).empty())
    fail(node, "input " + std::to_string(k) + " is missing");
  const Constant* c = constant(node.input(k));
  if (c == nullptr) fail(node, "input '" + node.input(k) + "' must be a constant (a weight)");
  return *c;
}

Json& OnnxImporter::add_layer(const onnx::NodeProto& node, Json layer,
                              const std::vector<std::string>& inputs) {
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

void OnnxImporter::add_node(const onnx::NodeProto& node) {
  const bool channels_last =
      std::any_of(node.input().begin(), node.input().end(),
                  [&](const std::string& v) { return channels_last_.count(v) > 0; });
  read_node(node, channels_last);
  if (channels_last && node.op_type() != "Transpose") channels_last_.insert(node.output(0));
}

void OnnxImporter::read_node(const onnx::NodeProto& node, bool channels_last) {
  const std::string& op = node.op_type();
  if (!node.domain().empty() && node.domain() != "ai.onnx") {
    fail(node,
         "ops of domain '" + node.domain() + "' are not supported; supported: " + kOnnxImportOps);
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

bool OnnxImporter::folds_into_input(const onnx::NodeProto& node) const {
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
  return from_input && c != nullptr && !read_before && (c->count() == 1 || c->count() == input_.c);
}

void OnnxImporter::fold_input_affine(const onnx::NodeProto& node) {
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

void OnnxImporter::nhwc_input(const onnx::NodeProto& node) {
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

bool OnnxImporter::fold(const onnx::NodeProto& node) {
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

std::vector<std::int64_t> OnnxImporter::static_shape(const onnx::NodeProto& node,
                                                     const std::string& value) {
  const std::string& layer = source(node, value);
  nn::Shape s = input_;
  if (layer != "input") {
    const Json config = {{"input", {input_.c, input_.h, input_.w}}, {"layers", layers_}};
    s = nn::Model::from_config(config).layer_output_shape(layer_of_.at(layer));
  }
  if (s.h == 1 && s.w == 1) return {1, s.c};
  return {1, s.c, s.h, s.w};
}

bool OnnxImporter::pattern(const onnx::NodeProto& node) {
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

void OnnxImporter::transpose_activation(const onnx::NodeProto& node) {
  const auto perm = ints_attr(node, "perm", {});
  const bool last = channels_last_.count(node.input(0)) > 0;
  if (!last && perm == std::vector<std::int64_t>{0, 2, 3, 1}) {
    channels_last_.insert(node.output(0));
  } else if (!(last && perm == std::vector<std::int64_t>{0, 3, 1, 2})) {
    fail(node, "kiln transposes an activation only to channels-last (0, 2, 3, 1) and back");
  }
  alias(node, node.input(0));
}

void OnnxImporter::channels_last_node(const onnx::NodeProto& node) {
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

nn::Model OnnxImporter::build() {
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

void OnnxImporter::copy_weights(nn::Model& model, std::size_t i) {
  nn::Layer& layer = model.layer(i);
  auto fill = [&](const std::string& name, nn::Tensor& t) {
    const auto it = weights_[i].find(name);
    if (it == weights_[i].end()) return;
    if (static_cast<std::int64_t>(it->second.size()) != t.size()) {
      throw Error(path_ + ": layer '" + model.layer_name(i) + "': its " + name + " has " +
                  std::to_string(it->second.size()) + " values in the ONNX file, " +
                  std::to_string(t.size()) + " here (shape " + t.shape().str() + ") on the input " +
                  input_.str() + "; give the input size it was exported for");
    }
    std::copy(it->second.begin(), it->second.end(), t.data());
  };
  for (nn::Parameter* p : layer.parameters()) fill(p->name, p->value);
  for (nn::Buffer* b : layer.buffers()) fill(b->name, b->value);
}

void OnnxImporter::reverse_input_channels(nn::Model& model) {
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

nn::Task onnx_task(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  onnx::ModelProto model;
  if (!in || !model.ParseFromIstream(&in)) throw Error(path + ": not an ONNX model");
  return onnx_task(model);
}

nn::Model import_onnx(const std::string& path, const OnnxImportOptions& options) {
  return OnnxImporter(path, options).run();
}

const char* onnx_import_ops() { return kOnnxImportOps; }

}  // namespace kiln::io
