#include "io/interop/keras_weights.hpp"

#include <algorithm>
#include <map>

#include "io/h5.hpp"
#include "nn/error.hpp"

namespace kiln::io {
namespace {

struct KerasArray {
  std::vector<std::int64_t> dims;
  std::vector<float> values;
  std::string str() const {
    std::string s = "(";
    for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
    return s + ")";
  }
};

struct KerasLayer {
  std::string name;
  std::map<std::string, KerasArray> weights;  // by kind: kernel, bias, gamma, beta, moving_*
};

// "block1_conv1/kernel:0" → "kernel"
std::string weight_kind(const std::string& weight_name) {
  std::string kind = weight_name.substr(weight_name.rfind('/') + 1);
  return kind.substr(0, kind.find(':'));
}

std::vector<KerasLayer> read_layers(const std::string& path) {
  const h5::File file = h5::File::open_read(path);
  const bool whole_model = file.exists("model_weights");
  const h5::Group root = file.open_group(whole_model ? "model_weights" : "/");
  if (!root.has_attribute("layer_names")) {
    throw Error(path + ": not a Keras weight file (no layer_names attribute" +
                std::string(whole_model ? " in /model_weights" : "") + ")");
  }
  std::vector<KerasLayer> layers;
  for (const std::string& name : root.strings_attribute("layer_names")) {
    const h5::Group group = root.open_group(name);
    KerasLayer layer{name, {}};
    for (const std::string& weight : group.strings_attribute("weight_names")) {
      const h5::Dataset data = group.open_dataset(weight);
      KerasArray array;
      std::int64_t count = 1;
      for (const auto d : data.dims()) {
        array.dims.push_back(static_cast<std::int64_t>(d));
        count *= static_cast<std::int64_t>(d);
      }
      array.values.resize(static_cast<std::size_t>(count));
      data.read(array.values.data(), h5::Type::kF32);
      layer.weights[weight_kind(weight)] = std::move(array);
    }
    if (layer.weights.empty()) continue;
    // A SeparableConv2D is two kiln layers (io/interop/keras_config.hpp): its depthwise kernel
    // goes to "<name>_depthwise", its pointwise kernel and bias to "<name>".
    if (const auto pointwise = layer.weights.find("pointwise_kernel");
        pointwise != layer.weights.end()) {
      KerasLayer depthwise{name + "_depthwise", {}};
      depthwise.weights["depthwise_kernel"] = layer.weights.at("depthwise_kernel");
      layer.weights.erase("depthwise_kernel");
      layer.weights["kernel"] = std::move(pointwise->second);
      layer.weights.erase("pointwise_kernel");
      layers.push_back(std::move(depthwise));
    }
    layers.push_back(std::move(layer));
  }
  return layers;
}

// Lays one Keras layer's weights into a kiln layer, checking every shape.
class LayerLoader {
 public:
  LayerLoader(const std::string& path, nn::Model& model, std::size_t index, const KerasLayer& from)
      : path_(path), model_(model), index_(index), from_(from) {}

  void run() {
    nn::Layer& layer = model_.layer(index_);
    const std::string type(layer.type());
    if (type == "conv2d" && from_.weights.contains("depthwise_kernel")) {
      depthwise(*find_parameter("weight"));
      if (nn::Parameter* b = optional_parameter("bias")) copy("bias", b->value);
    } else if (type == "conv2d") {
      conv(*find_parameter("weight"));
      if (nn::Parameter* b = optional_parameter("bias")) copy("bias", b->value);
    } else if (type == "dense") {
      dense(*find_parameter("weight"));
      if (nn::Parameter* b = optional_parameter("bias")) copy("bias", b->value);
    } else if (type == "batch_norm") {
      copy_or_default("gamma", find_parameter("gamma")->value, 1.f);
      copy_or_default("beta", find_parameter("beta")->value, 0.f);
      copy("moving_mean", find_buffer("running_mean")->value);
      copy("moving_variance", find_buffer("running_var")->value);
    } else {
      fail("is a " + type + ", which has no weights");
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(path_ + ": Keras layer '" + from_.name + "' onto kiln layer '" +
                model_.layer_name(index_) + "': " + what);
  }
  const KerasArray& array(const std::string& kind) const {
    const auto it = from_.weights.find(kind);
    if (it == from_.weights.end()) fail("the file has no " + kind);
    return it->second;
  }
  nn::Parameter* optional_parameter(const std::string& name) {
    for (nn::Parameter* p : model_.layer(index_).parameters()) {
      if (p->name == name) return p;
    }
    return nullptr;
  }
  nn::Parameter* find_parameter(const std::string& name) {
    nn::Parameter* p = optional_parameter(name);
    if (p == nullptr) fail("it has no " + name + " (a frozen or bias-free layer?)");
    return p;
  }
  nn::Buffer* find_buffer(const std::string& name) {
    for (nn::Buffer* b : model_.layer(index_).buffers()) {
      if (b->name == name) return b;
    }
    fail("it has no " + name);
  }
  void check_size(const std::string& kind, const KerasArray& a, const nn::Tensor& t) const {
    if (static_cast<std::int64_t>(a.values.size()) != t.size()) {
      fail(kind + " " + a.str() + " in the file, " + t.shape().str() + " here");
    }
  }
  void copy(const std::string& kind, nn::Tensor& t) {
    const KerasArray& a = array(kind);
    check_size(kind, a, t);
    std::copy(a.values.begin(), a.values.end(), t.data());
  }
  void copy_or_default(const std::string& kind, nn::Tensor& t, float fallback) {
    if (from_.weights.contains(kind)) return copy(kind, t);
    std::fill(t.data(), t.data() + t.size(), fallback);  // Keras' scale=False / center=False
  }

  void conv(nn::Parameter& weight) {
    const KerasArray& k = array("kernel");
    const nn::Shape s = weight.value.shape();  // (F, C, KH, KW)
    if (k.dims != std::vector<std::int64_t>{s.h, s.w, s.c, s.n}) {
      fail("kernel " + k.str() + " in the file (KH, KW, C, F), " + s.str() +
           " here (F, C, KH, KW)");
    }
    float* w = weight.value.data();
    for (std::int64_t f = 0; f < s.n; ++f)
      for (std::int64_t c = 0; c < s.c; ++c)
        for (std::int64_t i = 0; i < s.h; ++i)
          for (std::int64_t j = 0; j < s.w; ++j)
            w[((f * s.c + c) * s.h + i) * s.w + j] =
                k.values[static_cast<std::size_t>(((i * s.w + j) * s.c + c) * s.n + f)];
  }

  // DepthwiseConv2D's kernel (KH, KW, C, M) → kiln (C·M, 1, KH, KW): filter c·M + m reads
  // channel c alone, as Keras orders the outputs.
  void depthwise(nn::Parameter& weight) {
    const KerasArray& k = array("depthwise_kernel");
    const nn::Shape s = weight.value.shape();  // (C·M, 1, KH, KW)
    const bool fits = k.dims.size() == 4 && s.c == 1 && k.dims[0] == s.h && k.dims[1] == s.w &&
                      k.dims[2] * k.dims[3] == s.n;
    if (!fits) {
      fail("depthwise_kernel " + k.str() + " in the file (KH, KW, C, M), " + s.str() +
           " here (C·M, 1, KH, KW)");
    }
    const std::int64_t channels = k.dims[2], multiplier = k.dims[3];
    float* w = weight.value.data();
    for (std::int64_t c = 0; c < channels; ++c)
      for (std::int64_t m = 0; m < multiplier; ++m)
        for (std::int64_t i = 0; i < s.h; ++i)
          for (std::int64_t j = 0; j < s.w; ++j)
            w[((c * multiplier + m) * s.h + i) * s.w + j] =
                k.values[static_cast<std::size_t>(((i * s.w + j) * channels + c) * multiplier + m)];
  }

  // The (C, H, W) map a dense layer flattens, directly or through flatten layers.
  nn::Shape flattened_map() const {
    std::ptrdiff_t in = model_.graph().nodes()[index_].inputs.at(0);
    while (in != nn::LayerGraph::kModelInput) {
      const auto j = static_cast<std::size_t>(in);
      if (model_.layer(j).type() != "flatten") return model_.layer_output_shape(j);
      in = model_.graph().nodes()[j].inputs.at(0);
    }
    return model_.input_shape();
  }

  void dense(nn::Parameter& weight) {
    const KerasArray& k = array("kernel");
    const std::int64_t units = weight.value.shape().n, inputs = weight.value.size() / units;
    if (k.dims != std::vector<std::int64_t>{inputs, units}) {
      fail("kernel " + k.str() + " in the file (inputs, units), (" + std::to_string(units) + ", " +
           std::to_string(inputs) + ") here (units, inputs)");
    }
    // kiln's input index c·H·W + y·W + x is Keras' (y·W + x)·C + c.
    const nn::Shape m = flattened_map();
    const bool map = m.per_sample() == inputs && m.h * m.w > 1;
    float* w = weight.value.data();
    for (std::int64_t i = 0; i < inputs; ++i) {
      std::int64_t from = i;
      if (map) {
        const std::int64_t c = i / (m.h * m.w), p = i % (m.h * m.w);
        from = p * m.c + c;
      }
      for (std::int64_t u = 0; u < units; ++u) {
        w[u * inputs + i] = k.values[static_cast<std::size_t>(from * units + u)];
      }
    }
  }

  const std::string& path_;
  nn::Model& model_;
  std::size_t index_;
  const KerasLayer& from_;
};

bool has_weights(nn::Model& model, std::size_t i) {
  return !model.layer(i).parameters().empty() || !model.layer(i).buffers().empty();
}

}  // namespace

Json keras_model_config(const std::string& path) {
  const h5::File file = h5::File::open_read(path);
  if (!file.has_attribute("model_config")) return nullptr;
  const std::string text = file.string_attribute("model_config");
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    throw Error(path + ": its model_config attribute is not JSON: " + e.what());
  }
}

std::int64_t keras_output_units(const std::string& path) {
  const std::vector<KerasLayer> layers = read_layers(path);
  if (layers.empty() || !layers.back().weights.contains("kernel")) {
    throw Error(path + ": its last layer with weights has no kernel to count the classes from");
  }
  return layers.back().weights.at("kernel").dims.back();
}

void load_keras_weights(const std::string& path, nn::Model& model) {
  const std::vector<KerasLayer> layers = read_layers(path);
  std::vector<std::size_t> targets;  // kiln layers with weights, in the config's order
  std::map<std::string, std::size_t> by_name;
  for (std::size_t i = 0; i < model.size(); ++i) {
    if (!has_weights(model, i)) continue;
    targets.push_back(i);
    by_name[model.layer_name(i)] = i;
  }
  const bool named = std::all_of(layers.begin(), layers.end(),
                                 [&](const KerasLayer& l) { return by_name.contains(l.name); });
  if (!named && layers.size() != targets.size()) {
    throw Error(path + ": " + std::to_string(layers.size()) +
                " Keras layers with weights (first: '" +
                (layers.empty() ? std::string("none") : layers.front().name) +
                "'), but the model has " + std::to_string(targets.size()) + " (first: '" +
                (targets.empty() ? std::string("none") : model.layer_name(targets.front())) +
                "'); is it the same architecture?");
  }
  for (std::size_t k = 0; k < layers.size(); ++k) {
    const std::size_t i = named ? by_name.at(layers[k].name) : targets[k];
    LayerLoader(path, model, i, layers[k]).run();
  }
}

}  // namespace kiln::io
