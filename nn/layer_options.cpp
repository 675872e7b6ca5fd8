#include "nn/layer_options.hpp"

#include "nn/error.hpp"

namespace kiln::nn {

LayerOptions::LayerOptions(std::string_view type, const Json& options)
    : type_(type), options_(options) {
  if (!options_.is_object()) throw Error("layer '" + type_ + "': options must be a JSON object");
}

const Json* LayerOptions::lookup(const std::string& key) {
  asked_.insert(key);
  return options_.contains(key) ? &options_.at(key) : nullptr;
}

void LayerOptions::wrong_type(const std::string& key) const {
  throw Error("layer '" + type_ + "': option '" + key +
              "' has the wrong type: " + options_.at(key).dump());
}

void LayerOptions::read(const std::string& key, float& field) {
  if (const Json* v = lookup(key)) {
    if (!v->is_number()) wrong_type(key);
    field = v->get<float>();
  }
}

void LayerOptions::read(const std::string& key, std::int64_t& field) {
  if (const Json* v = lookup(key)) {
    if (!v->is_number_integer()) wrong_type(key);
    field = v->get<std::int64_t>();
  }
}

void LayerOptions::read(const std::string& key, std::string& field) {
  if (const Json* v = lookup(key)) {
    if (!v->is_string()) wrong_type(key);
    field = v->get<std::string>();
  }
}

void LayerOptions::read(const std::string& key, Size2& field) {
  if (const Json* v = lookup(key)) field = parse_size2(*v, type_, key);
}

void LayerOptions::read(const std::string& key, Padding& field) {
  if (const Json* v = lookup(key)) field = parse_padding(*v, type_);
}

void LayerOptions::read_weights(WeightOptions& weights) {
  asked_.insert(WeightOptions::keys().begin(), WeightOptions::keys().end());
  weights = WeightOptions::from_json(options_, type_);
}

void LayerOptions::reject_unknown() const {
  for (const auto& [key, value] : options_.items()) {
    if (asked_.contains(key)) continue;
    std::string names;
    for (const auto& a : asked_) names += (names.empty() ? "" : ", ") + a;
    throw Error("layer '" + type_ + "': unknown option '" + key +
                "'; allowed: " + (names.empty() ? "none" : names));
  }
}

}  // namespace kiln::nn
