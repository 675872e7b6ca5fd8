// LayerOptions: reads a layer's JSON options into the fields of its options struct. A key that is
// absent leaves the field's default (the member initializer, written once in the layer's header);
// a key of the wrong type, or one no read asked for (a typo such as "unit" is an error, not a
// silent default), is an error naming the layer, the key and what is allowed.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "nn/json.hpp"
#include "nn/layers/weights.hpp"
#include "nn/layers/window.hpp"

namespace kiln::nn {

class LayerOptions {
 public:
  // Throws kiln::Error when `options` is not a JSON object.
  LayerOptions(std::string_view type, const Json& options);

  void read(const std::string& key, float& field);
  void read(const std::string& key, std::int64_t& field);
  void read(const std::string& key, std::string& field);
  void read(const std::string& key, Size2& field);    // n or [h, w]
  void read(const std::string& key, Padding& field);  // "valid" | "same"
  void read_weights(WeightOptions& weights);          // init, use_bias, bias_init, regularizers
  bool has(const std::string& key) const { return options_.contains(key); }

  // Throws for a key that no read asked for, listing the ones that were.
  void reject_unknown() const;
  const std::string& type() const { return type_; }

 private:
  const Json* lookup(const std::string& key);
  [[noreturn]] void wrong_type(const std::string& key) const;

  std::string type_;
  const Json& options_;
  std::set<std::string> asked_;
};

}  // namespace kiln::nn
