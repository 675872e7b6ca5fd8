#include "nn/layers/registry.hpp"

#include <functional>
#include <map>
#include <set>

#include "nn/error.hpp"
#include "nn/init.hpp"
#include "nn/layers/activations.hpp"
#include "nn/layers/batch_norm.hpp"
#include "nn/layers/conv2d.hpp"
#include "nn/layers/dense.hpp"
#include "nn/layers/dropout.hpp"
#include "nn/layers/lrn.hpp"
#include "nn/layers/pool2d.hpp"
#include "nn/layers/weights.hpp"

namespace kiln::nn {
namespace {

// Reads a layer's JSON options: rejects unknown keys (a typo such as "unit" is an error, not a
// silent default) and values of the wrong type, naming the layer, the key and what is allowed.
class Options {
 public:
  Options(std::string type, const Json& options, std::set<std::string> allowed)
      : type_(std::move(type)), options_(options) {
    if (!options_.is_object()) throw Error("layer '" + type_ + "': options must be a JSON object");
    for (const auto& [key, value] : options_.items()) {
      if (!allowed.contains(key)) {
        std::string names;
        for (const auto& a : allowed) names += (names.empty() ? "" : ", ") + a;
        throw Error("layer '" + type_ + "': unknown option '" + key +
                    "'; allowed: " + (names.empty() ? "none" : names));
      }
    }
  }

  template <class T>
  T get(const std::string& key, T fallback) const {
    if (!options_.contains(key)) return fallback;
    try {
      return options_.at(key).get<T>();
    } catch (const Json::exception&) {
      throw Error("layer '" + type_ + "': option '" + key +
                  "' has the wrong type: " + options_.at(key).dump());
    }
  }
  Size2 size2(const std::string& key, Size2 fallback) const {
    return options_.contains(key) ? parse_size2(options_.at(key), type_, key) : fallback;
  }
  Padding padding() const { return parse_padding(get<std::string>("padding", "valid"), type_); }

 private:
  std::string type_;
  const Json& options_;
};

std::unique_ptr<Layer> make_pool(PoolKind kind, const Json& o) {
  const Options opt(kind == PoolKind::kMax ? "max_pool2d" : "avg_pool2d", o,
                    {"pool_size", "strides", "padding"});
  Pool2DOptions p;
  p.pool = opt.size2("pool_size", {2, 2});
  p.strides = opt.size2("strides", p.pool);
  p.padding = opt.padding();
  return std::make_unique<Pool2D>(kind, p);
}

std::set<std::string> with_weight_keys(std::set<std::string> keys) {
  keys.insert(WeightOptions::keys().begin(), WeightOptions::keys().end());
  return keys;
}

using Factory = std::function<std::unique_ptr<Layer>(const Json&)>;

// The one list of layer types: one entry each.
const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> table = {
      {"dense",
       [](const Json& o) {
         const Options opt("dense", o, with_weight_keys({"units"}));
         return std::make_unique<Dense>(
             DenseOptions{opt.get<std::int64_t>("units", 0), WeightOptions::from_json(o, "dense")});
       }},
      {"conv2d",
       [](const Json& o) {
         const Options opt(
             "conv2d", o,
             with_weight_keys({"filters", "kernel_size", "strides", "padding", "algorithm"}));
         Conv2DOptions c;
         c.filters = opt.get<std::int64_t>("filters", 0);
         c.kernel = opt.size2("kernel_size", {3, 3});
         c.strides = opt.size2("strides", {1, 1});
         c.padding = opt.padding();
         c.algorithm = parse_conv_algorithm(opt.get<std::string>("algorithm", "auto"));
         c.weights = WeightOptions::from_json(o, "conv2d");
         return std::make_unique<Conv2D>(c);
       }},
      {"max_pool2d", [](const Json& o) { return make_pool(PoolKind::kMax, o); }},
      {"avg_pool2d", [](const Json& o) { return make_pool(PoolKind::kAverage, o); }},
      {"global_avg_pool2d",
       [](const Json& o) {
         Options("global_avg_pool2d", o, {});
         return std::make_unique<GlobalAvgPool2D>();
       }},
      {"flatten",
       [](const Json& o) {
         Options("flatten", o, {});
         return std::make_unique<Flatten>();
       }},
      {"dropout",
       [](const Json& o) {
         const Options opt("dropout", o, {"rate"});
         return std::make_unique<Dropout>(opt.get<float>("rate", 0.5f));
       }},
      {"batch_norm",
       [](const Json& o) {
         const Options opt("batch_norm", o, {"momentum", "epsilon"});
         return std::make_unique<BatchNorm>(opt.get<float>("momentum", 0.99f),
                                            opt.get<float>("epsilon", 1e-3f));
       }},
      {"lrn",
       [](const Json& o) {
         const Options opt("lrn", o, {"size", "alpha", "beta", "k"});
         return std::make_unique<LocalResponseNorm>(
             LrnOptions{opt.get<std::int64_t>("size", 5), opt.get<float>("alpha", 1e-4f),
                        opt.get<float>("beta", 0.75f), opt.get<float>("k", 2.f)});
       }},
      {"relu",
       [](const Json& o) {
         Options("relu", o, {});
         return std::make_unique<ElementwiseActivation>(Activation::kRelu);
       }},
      {"leaky_relu",
       [](const Json& o) {
         const Options opt("leaky_relu", o, {"alpha"});
         return std::make_unique<ElementwiseActivation>(Activation::kLeakyRelu,
                                                        opt.get<float>("alpha", 0.3f));
       }},
      {"sigmoid",
       [](const Json& o) {
         Options("sigmoid", o, {});
         return std::make_unique<ElementwiseActivation>(Activation::kSigmoid);
       }},
      {"tanh",
       [](const Json& o) {
         Options("tanh", o, {});
         return std::make_unique<ElementwiseActivation>(Activation::kTanh);
       }},
      {"softmax",
       [](const Json& o) {
         Options("softmax", o, {});
         return std::make_unique<Softmax>();
       }},
  };
  return table;
}

}  // namespace

std::unique_ptr<Layer> make_layer(const std::string& type, const Json& options) {
  const auto& table = factories();
  const auto it = table.find(type);
  if (it == table.end()) {
    std::string names;
    for (const auto& t : layer_types()) names += (names.empty() ? "" : ", ") + t;
    throw Error("unknown layer type '" + type + "'; known types: " + names);
  }
  return it->second(options.is_null() ? Json::object() : options);
}

std::vector<std::string> layer_types() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : factories()) names.push_back(name);
  return names;
}

}  // namespace kiln::nn
