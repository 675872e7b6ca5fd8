#include "nn/init.hpp"

#include <algorithm>
#include <cmath>

#include "nn/error.hpp"

namespace kiln::nn {

std::vector<std::string> initializer_types() {
  return {"zeros",         "constant",     "normal",    "glorot_uniform",
          "glorot_normal", "caffe_xavier", "he_normal", "he_uniform"};
}

void check_initializer_name(const std::string& name, const std::string& owner) {
  const auto names = initializer_types();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    throw Error(owner + ": unknown init '" + name + "'; use one of " + list);
  }
}

Json Initializer::to_json() const {
  if (type == "constant") return {{"type", type}, {"value", value}};
  return type;
}

Initializer Initializer::from_json(const Json& json, const std::string& owner) {
  Initializer init;
  if (json.is_string()) {
    init.type = json.get<std::string>();
  } else if (json.is_object() && json.contains("type") && json.at("type").is_string()) {
    init.type = json.at("type").get<std::string>();
    for (const auto& [key, v] : json.items()) {
      if (key == "value" && v.is_number()) {
        init.value = v.get<float>();
      } else if (key != "type") {
        throw Error(owner + ": initializer option '" + key +
                    "' is not known; only constant takes \"value\"");
      }
    }
  } else {
    throw Error(owner + ": init must be a name or {\"type\": ..., \"value\": ...}, got " +
                json.dump());
  }
  check_initializer_name(init.type, owner);
  return init;
}

void fill_initializer(const Initializer& init, std::span<float> values, std::int64_t fan_in,
                      std::int64_t fan_out, Rng& rng) {
  check_initializer_name(init.type, "initializer");
  const auto in = static_cast<float>(fan_in), out = static_cast<float>(fan_out);
  auto uniform = [&](float limit) {
    for (float& v : values) v = rng.uniform(-limit, limit);
  };
  auto normal = [&](float stddev) {
    for (float& v : values) v = rng.normal(0.f, stddev);
  };
  const std::string& t = init.type;
  if (t == "zeros") std::fill(values.begin(), values.end(), 0.f);
  if (t == "constant") std::fill(values.begin(), values.end(), init.value);
  if (t == "normal") normal(0.01f);
  if (t == "glorot_uniform") uniform(std::sqrt(6.f / (in + out)));
  if (t == "glorot_normal") normal(std::sqrt(2.f / (in + out)));
  if (t == "caffe_xavier") uniform(std::sqrt(3.f / in));
  if (t == "he_normal") normal(std::sqrt(2.f / in));
  if (t == "he_uniform") uniform(std::sqrt(6.f / in));
}

}  // namespace kiln::nn
