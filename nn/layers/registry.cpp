#include "nn/layers/registry.hpp"

#include <functional>
#include <map>
#include <set>

#include "nn/error.hpp"
#include "nn/layers/activations.hpp"
#include "nn/layers/dense.hpp"

namespace kiln::nn {
namespace {

// Rejects options the layer does not know, so a typo ("unit": 10) is an error, not a silent
// default.
void check_keys(const std::string& type, const Json& options,
                const std::set<std::string>& allowed) {
  if (!options.is_object()) throw Error("layer '" + type + "': options must be a JSON object");
  for (const auto& [key, value] : options.items()) {
    if (!allowed.contains(key)) {
      std::string names;
      for (const auto& a : allowed) names += (names.empty() ? "" : ", ") + a;
      throw Error("layer '" + type + "': unknown option '" + key +
                  "'; allowed: " + (names.empty() ? "none" : names));
    }
  }
}

template <class T>
T get_or(const std::string& type, const Json& options, const std::string& key, T fallback) {
  if (!options.contains(key)) return fallback;
  try {
    return options.at(key).get<T>();
  } catch (const Json::exception&) {
    throw Error("layer '" + type + "': option '" + key +
                "' has the wrong type: " + options.at(key).dump());
  }
}

using Factory = std::function<std::unique_ptr<Layer>(const Json&)>;

const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> table = {
      {"dense",
       [](const Json& o) {
         check_keys("dense", o, {"units", "init", "use_bias"});
         DenseOptions d;
         d.units = get_or<std::int64_t>("dense", o, "units", 0);
         d.init = get_or<std::string>("dense", o, "init", d.init);
         d.use_bias = get_or<bool>("dense", o, "use_bias", d.use_bias);
         return std::make_unique<Dense>(d);
       }},
      {"relu",
       [](const Json& o) {
         check_keys("relu", o, {});
         return std::make_unique<Relu>();
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
