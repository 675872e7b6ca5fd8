#include "nn/model/blocks.hpp"

#include "nn/error.hpp"
#include "nn/layers/registry.hpp"
#include "nn/model/graph.hpp"

namespace kiln::nn {
namespace {

constexpr const char* kResidual = "residual";

struct ResidualOptions {
  std::int64_t filters = 0;
  std::int64_t strides = 1;
  std::string shortcut = "auto";
};

std::int64_t positive_integer(const Json& options, const char* key, std::int64_t fallback) {
  if (!options.contains(key)) {
    if (fallback > 0) return fallback;
    throw Error(std::string("residual: '") + key + "' is required (a positive integer)");
  }
  const Json& value = options.at(key);
  if (!value.is_number_integer() || value.get<std::int64_t>() <= 0) {
    throw Error(std::string("residual: '") + key + "' must be a positive integer, got " +
                value.dump());
  }
  return value.get<std::int64_t>();
}

ResidualOptions read_residual(const Json& options) {
  if (!options.is_object()) throw Error("residual: options must be an object");
  for (const auto& [key, value] : options.items()) {
    if (key != "filters" && key != "strides" && key != "shortcut") {
      throw Error("residual: unknown option '" + key +
                  "'; allowed: filters, strides, shortcut (and name, inputs, trainable)");
    }
  }
  ResidualOptions o;
  o.filters = positive_integer(options, "filters", 0);
  o.strides = positive_integer(options, "strides", 1);
  if (options.contains("shortcut")) {
    const Json& s = options.at("shortcut");
    if (!s.is_string() || (s != "auto" && s != "projection" && s != "identity")) {
      throw Error("residual: 'shortcut' must be \"auto\", \"projection\" or \"identity\", got " +
                  s.dump());
    }
    o.shortcut = s.get<std::string>();
  }
  return o;
}

Shape conv_shape(Json conv, const Shape& input) {
  conv.erase("type");
  return make_layer("conv2d", conv)->build(input);
}

// The shape a plain layer gives on these inputs: the graph's own build, done once for the walk.
Shape built_shape(const GraphNode& node, const std::vector<Shape>& inputs) {
  const std::unique_ptr<Layer> layer = make_layer(node.type, node.options);
  if (auto* join = dynamic_cast<JoinLayer*>(layer.get())) return join->build_join(inputs);
  if (inputs.size() != 1) {
    throw Error(node.type + " takes one input, got " + std::to_string(inputs.size()));
  }
  return layer->build(inputs.front());
}

// One block's layers, appended to `out`; returns the block's output shape.
Shape append_residual(const GraphNode& block, const std::string& input_name, const Shape& input,
                      Json& out) {
  const ResidualOptions o = read_residual(block.options);
  const bool shape_changes = o.strides != 1 || input.c != o.filters;
  if (o.shortcut == "identity" && shape_changes) {
    throw Error("residual: an identity shortcut needs the input's shape, but the input has " +
                std::to_string(input.c) + " channels and the block " + std::to_string(o.filters) +
                " filters with strides " + std::to_string(o.strides) +
                "; use \"shortcut\": \"auto\"");
  }
  const bool project = o.shortcut == "projection" || (o.shortcut == "auto" && shape_changes);
  const std::string& b = block.name;
  const std::size_t first = out.size();
  auto push = [&](Json entry, const std::string& name, const Json& inputs = nullptr) {
    entry["name"] = name;
    if (!inputs.is_null()) entry["inputs"] = inputs;
    out.push_back(std::move(entry));
  };
  const Json conv1 = resnet_conv(o.filters, 3, o.strides), conv2 = resnet_conv(o.filters, 3, 1);
  const Shape output = conv_shape(conv2, conv_shape(conv1, input));
  push(conv1, b + "_conv1", input_name);
  push(resnet_batch_norm(), b + "_conv1_bn");
  push({{"type", "relu"}}, b + "_relu1");
  push(conv2, b + "_conv2");
  push(resnet_batch_norm(), b + "_conv2_bn");
  std::string shortcut = input_name;
  if (project) {
    push(resnet_conv(o.filters, 1, o.strides), b + "_proj", input_name);
    push(resnet_batch_norm(), b + "_proj_bn");
    shortcut = b + "_proj_bn";
  }
  push({{"type", "add"}}, b + "_add", Json::array({b + "_conv2_bn", shortcut}));
  push({{"type", "relu"}}, b);
  if (!block.trainable) {
    for (std::size_t i = first; i < out.size(); ++i) out[i]["trainable"] = false;
  }
  return output;
}

bool has_blocks(const Json& layers) {
  if (!layers.is_array()) return false;
  for (const Json& entry : layers) {
    if (entry.is_object() && entry.contains("type") && entry.at("type").is_string() &&
        is_block_type(entry.at("type").get<std::string>()))
      return true;
  }
  return false;
}

}  // namespace

Json resnet_conv(std::int64_t filters, std::int64_t kernel, std::int64_t strides) {
  return {{"type", "conv2d"},  {"filters", filters}, {"kernel_size", kernel}, {"strides", strides},
          {"padding", "same"}, {"use_bias", false},  {"init", "he_normal"}};
}
Json resnet_batch_norm() { return {{"type", "batch_norm"}, {"momentum", 0.9}, {"epsilon", 1e-5}}; }

bool is_block_type(const std::string& type) { return type == kResidual; }
std::vector<std::string> block_types() { return {kResidual}; }

void check_block_options(const std::string& type, const Json& options) {
  if (type == kResidual) (void)read_residual(options);
}

Json expand_blocks(const Json& layers, const Shape& input_shape) {
  if (!has_blocks(layers)) return layers;
  const LayerGraph graph = LayerGraph::parse(layers);
  const auto& nodes = graph.nodes();

  // Blocks need their input's shape, so every entry is expanded in the graph's order (inputs
  // first), then written back in the listed order.
  std::vector<Shape> shapes(nodes.size());
  std::vector<Json> expanded(nodes.size());
  for (const std::size_t i : graph.order()) {
    const GraphNode& node = nodes[i];
    std::vector<Shape> inputs;
    std::vector<std::string> input_names;
    for (const std::ptrdiff_t in : node.inputs) {
      const bool model_input = in == LayerGraph::kModelInput;
      inputs.push_back(model_input ? input_shape : shapes[static_cast<std::size_t>(in)]);
      input_names.push_back(model_input ? "input" : nodes[static_cast<std::size_t>(in)].name);
    }
    try {
      expanded[i] = Json::array();
      if (is_block_type(node.type)) {
        if (inputs.size() != 1) {
          throw Error(node.type + " takes one input, got " + std::to_string(inputs.size()));
        }
        shapes[i] = append_residual(node, input_names.front(), inputs.front(), expanded[i]);
      } else {
        shapes[i] = built_shape(node, inputs);
        Json entry = layers[i];
        entry["name"] = node.name;  // later blocks shift the <type>_<k> counts
        expanded[i].push_back(std::move(entry));
      }
    } catch (const Error& e) {
      throw Error("model config: " + graph.describe(i) + ": " + e.what());
    }
  }
  Json out = Json::array();
  for (const Json& entries : expanded) {
    for (const Json& entry : entries) out.push_back(entry);
  }
  return out;
}

}  // namespace kiln::nn
