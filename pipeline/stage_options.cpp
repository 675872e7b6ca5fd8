#include "pipeline/stage_options.hpp"

#include "nn/error.hpp"

namespace kiln::pipeline {

StageOptions::StageOptions(std::string_view stage, const Json& options)
    : stage_(stage), options_(options) {
  if (!options_.is_object()) {
    throw Error("stage '" + stage_ + "': options must be a JSON object, got " + options_.dump());
  }
}

const Json* StageOptions::lookup(const std::string& key) {
  asked_.insert(key);
  return options_.contains(key) ? &options_.at(key) : nullptr;
}

const Json* StageOptions::find(const std::string& key) { return lookup(key); }

void StageOptions::fail(const std::string& key, const std::string& want) const {
  throw Error("stage '" + stage_ + "': option '" + key + "' must be " + want + ", got " +
              options_.at(key).dump());
}

void StageOptions::read(const std::string& key, float& field) {
  if (const Json* v = lookup(key)) {
    if (!v->is_number()) fail(key, "a number");
    field = v->get<float>();
  }
}

void StageOptions::read(const std::string& key, int& field) {
  if (const Json* v = lookup(key)) {
    if (!v->is_number_integer()) fail(key, "an integer");
    field = v->get<int>();
  }
}

void StageOptions::read(const std::string& key, std::string& field) {
  if (const Json* v = lookup(key)) {
    if (!v->is_string()) fail(key, "a string");
    field = v->get<std::string>();
  }
}

void StageOptions::read_range(const std::string& key, float& lo, float& hi) {
  if (const Json* v = lookup(key)) {
    if (!v->is_array() || v->size() != 2 || !(*v)[0].is_number() || !(*v)[1].is_number()) {
      fail(key, "[lo, hi]");
    }
    lo = (*v)[0].get<float>();
    hi = (*v)[1].get<float>();
  }
}

void StageOptions::read_range(const std::string& key, int& lo, int& hi) {
  if (const Json* v = lookup(key)) {
    if (!v->is_array() || v->size() != 2 || !(*v)[0].is_number_integer() ||
        !(*v)[1].is_number_integer()) {
      fail(key, "[min, max] (integers)");
    }
    lo = (*v)[0].get<int>();
    hi = (*v)[1].get<int>();
  }
}

void StageOptions::reject_unknown() const {
  for (const auto& [key, value] : options_.items()) {
    if (asked_.contains(key)) continue;
    std::string names;
    for (const auto& a : asked_) names += (names.empty() ? "" : ", ") + a;
    throw Error("stage '" + stage_ + "': unknown option '" + key +
                "'; allowed: " + (names.empty() ? "none" : names));
  }
}

}  // namespace kiln::pipeline
