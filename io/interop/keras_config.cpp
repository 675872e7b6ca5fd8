#include "io/interop/keras_config.hpp"

#include <map>
#include <optional>

#include "nn/error.hpp"

namespace kiln::io {
namespace {

constexpr const char* kSupported =
    "InputLayer, Conv2D, Dense, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, "
    "BatchNormalization, Activation, ReLU, LeakyReLU, Flatten, Dropout, Add, Concatenate, "
    "ZeroPadding2D, DepthwiseConv2D, SeparableConv2D, UpSampling2D";

class Translator {
 public:
  explicit Translator(std::string source) : source_(std::move(source)) {}

  Json run(const Json& keras) {
    const Json config = keras.value("config", Json());
    // Keras 2.2 wrote a Sequential's config as the layer list itself.
    const Json& list = config.is_array() ? config : config.value("layers", Json());
    if (!list.is_array() || list.empty()) {
      throw Error(source_ + ": not a Keras model config (no \"config\": {\"layers\": [...]})");
    }
    const bool sequential = keras.value("class_name", "") == "Sequential";
    for (const Json& layer : list) add(layer, sequential);
    // Keras 3 Sequential models built without an InputLayer record the shape they were built on.
    if (!input_ && config.is_object() && config.contains("build_input_shape")) {
      set_input(config.at("build_input_shape"), "build_input_shape");
    }
    if (!input_) throw Error(source_ + ": the Keras model states no input shape");
    finish(config);
    return {{"input", *input_}, {"layers", layers_}};
  }

 private:
  [[noreturn]] void fail(const std::string& name, const std::string& what) const {
    throw Error(source_ + ": Keras layer '" + name + "': " + what);
  }

  static Json get(const Json& c, const char* key, Json fallback) {
    const auto it = c.find(key);
    return it == c.end() || it->is_null() ? fallback : *it;
  }

  // The Keras layers a node reads. Keras 2: [["name", 0, 0, {}], ...]; Keras 3: {"args": [...]}
  // whose Keras tensors name their layer in keras_history, a merge's as one list of tensors.
  static std::vector<std::string> node_sources(const Json& node) {
    std::vector<std::string> names;
    if (node.is_array()) {
      for (const Json& ref : node) names.push_back(ref.at(0).get<std::string>());
      return names;
    }
    const auto collect = [&](const Json& arg, const auto& self) -> void {
      if (arg.is_array()) {
        for (const Json& a : arg) self(a, self);
      } else if (arg.is_object() && arg.value("class_name", "") == "__keras_tensor__") {
        names.push_back(arg.at("config").at("keras_history").at(0).get<std::string>());
      }
    };
    collect(node.value("args", Json::array()), collect);
    return names;
  }

  // The kiln names a Keras layer reads: its inbound nodes, or the layer before (Sequential).
  std::vector<std::string> inputs_of(const Json& layer, bool sequential) const {
    if (sequential) return {previous_};
    std::vector<std::string> in;
    const Json nodes = get(layer, "inbound_nodes", Json::array());
    if (nodes.empty()) return in;
    for (const std::string& name : node_sources(nodes.at(0))) {
      const auto it = output_of_.find(name);
      if (it == output_of_.end())
        fail(layer.value("name", ""), "reads unknown layer '" + name + "'");
      in.push_back(it->second);
    }
    return in;
  }

  // (None, H, W, C) images, or (None, D) flat vectors: a kiln input of 1 × 1 × D (kiln import
  // --input C H W reads images whose C·H·W values are those D, in the same order).
  void set_input(const Json& shape, const std::string& name) {
    const auto fixed = [&](std::size_t from) {
      for (std::size_t i = from; i < shape.size(); ++i)
        if (!shape[i].is_number_integer()) return false;
      return true;
    };
    if (shape.is_array() && shape.size() == 2 && fixed(1)) {
      input_ = Json::array({1, 1, shape[1]});
      return;
    }
    if (!shape.is_array() || shape.size() != 4 || !fixed(1)) {
      fail(name, "kiln needs a fixed (H, W, C) or (D) input shape, got " + shape.dump());
    }
    input_ = Json::array({shape[3], shape[1], shape[2]});
  }

  void push(Json layer, const std::string& name, std::vector<std::string> inputs) {
    layer["name"] = name;
    layer["inputs"] = inputs;
    layers_.push_back(std::move(layer));
    previous_ = name;
  }

  // An activation after the layer `name`; the Keras layer's output is then the activation's.
  void activation(const std::string& keras_name, const std::string& act, const std::string& from) {
    output_of_[keras_name] = from;
    previous_ = from;
    if (act == "linear") return;
    static const std::map<std::string, std::string> kinds = {{"relu", "relu"},
                                                             {"sigmoid", "sigmoid"},
                                                             {"tanh", "tanh"},
                                                             {"softmax", "softmax"},
                                                             {"relu6", "relu6"},
                                                             {"swish", "silu"},
                                                             {"silu", "silu"},
                                                             {"gelu", "gelu"},
                                                             {"hard_silu", "hard_swish"},
                                                             {"hard_swish", "hard_swish"},
                                                             {"hard_sigmoid", "hard_sigmoid"}};
    const auto it = kinds.find(act);
    if (it == kinds.end()) {
      fail(keras_name, "activation '" + act +
                           "' is not supported (relu, relu6, sigmoid, tanh, softmax, swish, silu, "
                           "gelu, hard_sigmoid, hard_silu)");
    }
    const std::string name = from == keras_name ? keras_name + "_" + act : keras_name;
    Json layer = {{"type", it->second}};
    // Keras 3's hard_sigmoid is relu6(x + 3) / 6 (kiln's default); Keras 2's clip(0.2x + 0.5).
    if (act == "hard_sigmoid" && !keras3_) layer["alpha"] = 0.2;
    push(layer, name, {from});
    output_of_[keras_name] = name;
  }

  // Padding of a conv or pool: Keras' mode, or the pixels of a ZeroPadding2D it reads.
  Json padding(const Json& c, std::vector<std::string>& in) {
    const std::string mode = get(c, "padding", "valid").get<std::string>();
    const auto pad = zero_padding_.find(in.at(0));
    if (pad == zero_padding_.end()) return mode;
    if (mode != "valid") fail(c.value("name", ""), "reads a ZeroPadding2D and pads \"same\" too");
    in = {pad->second.first};
    return pad->second.second;
  }

  void add(const Json& layer, bool sequential) {
    const std::string cls = layer.value("class_name", "");
    keras3_ = keras3_ || layer.contains("module");  // Keras 3 names each layer's module
    const Json c = layer.value("config", Json::object());
    const std::string name = c.value("name", layer.value("name", cls));
    if (get(c, "data_format", "channels_last") != "channels_last") {
      fail(name, "kiln reads channels_last models only");
    }
    if (cls == "InputLayer") {
      set_input(get(c, "batch_input_shape", get(c, "batch_shape", nullptr)), name);
      output_of_[name] = "input";
      previous_ = "input";
      return;
    }
    if (!input_ && c.contains("batch_input_shape")) {  // a Sequential's first layer
      set_input(c.at("batch_input_shape"), name);
      previous_ = "input";
    }
    std::vector<std::string> in = inputs_of(layer, sequential);
    if (in.empty()) fail(name, "reads nothing");
    if (cls == "Conv2D" || cls == "DepthwiseConv2D") return add_conv(cls, c, name, in);
    if (cls == "SeparableConv2D") return add_separable(c, name, in);
    if (cls == "Dense") {
      push({{"type", "dense"}, {"units", c.at("units")}, {"use_bias", get(c, "use_bias", true)}},
           name, in);
      return activation(name, get(c, "activation", "linear"), name);
    }
    if (cls == "MaxPooling2D" || cls == "AveragePooling2D") return add_pool(cls, c, name, in);
    if (cls == "ZeroPadding2D") return add_zero_padding(c, name, in);
    if (cls == "UpSampling2D") {
      const std::string interpolation = get(c, "interpolation", "nearest");
      if (interpolation != "nearest" && interpolation != "bilinear")
        fail(name, "interpolation '" + interpolation + "' is not supported (nearest, bilinear)");
      push({{"type", "upsample"},
            {"size", get(c, "size", Json::array({2, 2}))},
            {"interpolation", interpolation}},
           name, in);
      output_of_[name] = name;
      return;
    }
    if (cls == "Activation") return activation(name, c.at("activation").get<std::string>(), in[0]);
    if (cls == "ReLU" || cls == "LeakyReLU") return add_relu(cls, c, name, in);
    output_of_[name] = name;
    if (cls == "GlobalAveragePooling2D" || cls == "Flatten") {
      push({{"type", cls == "Flatten" ? "flatten" : "global_avg_pool2d"}}, name, in);
    } else if (cls == "Dropout") {
      push({{"type", "dropout"}, {"rate", c.at("rate")}}, name, in);
    } else if (cls == "BatchNormalization") {
      const Json axis = get(c, "axis", -1);
      if (!(axis == -1 || axis == 3 || axis == Json::array({3}))) {
        fail(name, "kiln normalizes the channel axis only, got axis " + axis.dump());
      }
      push({{"type", "batch_norm"},
            {"epsilon", get(c, "epsilon", 1e-3)},
            {"momentum", get(c, "momentum", 0.99)}},
           name, in);
    } else if (cls == "Add" || cls == "Concatenate") {
      if (cls == "Concatenate" && !(get(c, "axis", -1) == -1 || get(c, "axis", -1) == 3)) {
        fail(name, "kiln concatenates channels (axis -1) only");
      }
      push({{"type", cls == "Add" ? "add" : "concat"}}, name, in);
    } else {
      fail(name, "class " + cls + " is not supported; supported: " + kSupported);
    }
  }

  // Conv2D (groups, dilation_rate) or DepthwiseConv2D (depth_multiplier): a conv2d.
  Json conv_layer(const std::string& cls, const Json& c, std::vector<std::string>& in) {
    Json layer = {{"type", "conv2d"},
                  {"kernel_size", c.at("kernel_size")},
                  {"strides", get(c, "strides", Json::array({1, 1}))},
                  {"dilation", get(c, "dilation_rate", Json::array({1, 1}))},
                  {"padding", padding(c, in)},
                  {"use_bias", get(c, "use_bias", true)}};
    if (cls == "DepthwiseConv2D") {
      layer["depth_multiplier"] = get(c, "depth_multiplier", 1);
    } else {
      layer["filters"] = c.at("filters");
      layer["groups"] = get(c, "groups", 1);
    }
    return layer;
  }

  void add_conv(const std::string& cls, const Json& c, const std::string& name,
                std::vector<std::string> in) {
    Json layer = conv_layer(cls, c, in);
    push(std::move(layer), name, in);
    activation(name, get(c, "activation", "linear"), name);
  }

  // SeparableConv2D: a depthwise conv2d "<name>_depthwise" (no bias), then the 1x1 conv2d "<name>"
  // with the layer's filters, bias and activation.
  void add_separable(const Json& c, const std::string& name, std::vector<std::string> in) {
    Json depthwise = conv_layer("DepthwiseConv2D", c, in);
    depthwise["use_bias"] = false;
    push(std::move(depthwise), name + "_depthwise", in);
    push({{"type", "conv2d"},
          {"filters", c.at("filters")},
          {"kernel_size", 1},
          {"use_bias", get(c, "use_bias", true)}},
         name, {name + "_depthwise"});
    activation(name, get(c, "activation", "linear"), name);
  }

  void add_pool(const std::string& cls, const Json& c, const std::string& name,
                std::vector<std::string> in) {
    const Json size = get(c, "pool_size", Json::array({2, 2}));
    const Json pad = padding(c, in);
    push({{"type", cls == "MaxPooling2D" ? "max_pool2d" : "avg_pool2d"},
          {"pool_size", size},
          {"strides", get(c, "strides", size)},
          {"padding", pad}},
         name, in);
    output_of_[name] = name;
  }

  // Not a layer: its pixels fold into the conv or pool that reads it.
  void add_zero_padding(const Json& c, const std::string& name,
                        const std::vector<std::string>& in) {
    // ((top, bottom), (left, right)), (h, w) or one number
    const Json p = get(c, "padding", 1);
    std::int64_t t, b, l, r;
    if (p.is_number_integer()) {
      t = b = l = r = p.get<std::int64_t>();
    } else if (p.size() == 2 && p[0].is_number_integer()) {
      t = b = p[0].get<std::int64_t>();
      l = r = p[1].get<std::int64_t>();
    } else {
      t = p.at(0).at(0), b = p.at(0).at(1), l = p.at(1).at(0), r = p.at(1).at(1);
    }
    zero_padding_[name] = {in.at(0), Json::array({t, l, b, r})};
    output_of_[name] = name;
    previous_ = name;
  }

  void add_relu(const std::string& cls, const Json& c, const std::string& name,
                const std::vector<std::string>& in) {
    const Json max_value = get(c, "max_value", nullptr);
    const bool relu6 = max_value.is_number() && max_value.get<double>() == 6.0;
    if (cls == "ReLU" &&
        ((!max_value.is_null() && !relu6) || get(c, "negative_slope", 0.0) != 0.0 ||
         get(c, "threshold", 0.0) != 0.0)) {
      fail(name,
           "only a plain ReLU or ReLU(6) (no other max_value, negative_slope or threshold) is "
           "supported");
    }
    Json l = {{"type", cls == "ReLU" ? (relu6 ? "relu6" : "relu") : "leaky_relu"}};
    if (cls == "LeakyReLU") l["alpha"] = get(c, "alpha", get(c, "negative_slope", 0.3));
    push(l, name, in);
    output_of_[name] = name;
  }

  // The output: the Keras output layer's kiln layer, listed last; a final softmax dropped.
  void finish(const Json& config) {
    std::string out = previous_;
    if (config.is_object() && config.contains("output_layers")) {
      const Json& outputs = config.at("output_layers");
      if (outputs.size() != 1) throw Error(source_ + ": kiln imports models with one output");
      out = output_of_.at(outputs.at(0).at(0).get<std::string>());
    }
    if (!layers_.empty() && layers_.back().at("name") == out &&
        layers_.back().at("type") == "softmax") {
      out = layers_.back().at("inputs").at(0).get<std::string>();
      layers_.erase(layers_.size() - 1);
    }
    if (layers_.empty() || layers_.back().at("name") != out) {
      push({{"type", "identity"}}, "output", {out});
    }
  }

  std::string source_;
  bool keras3_ = false;  // a layer named its module, as Keras 3 writes them
  std::optional<Json> input_;
  Json layers_ = Json::array();
  std::string previous_ = "input";
  std::map<std::string, std::string> output_of_;  // Keras layer → the kiln layer of its output
  std::map<std::string, std::pair<std::string, Json>> zero_padding_;  // → (its input, pixels)
};

}  // namespace

Json kiln_config_from_keras(const Json& keras, const std::string& source) {
  return Translator(source).run(keras);
}

}  // namespace kiln::io
