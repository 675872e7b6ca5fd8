// WeightOptions: the options every layer with a weight and a bias takes (dense, conv2d), parsed,
// checked and written back in one place.
//   init (nn/init.hpp), use_bias, bias_init (a small positive constant such as 0.1 keeps ReLUs
//   alive at the start), kernel_regularizer / bias_regularizer (l1, l2, max_norm;
//   nn/training/regularizer.hpp)
#pragma once

#include <set>
#include <string>

#include "nn/init.hpp"
#include "nn/json.hpp"
#include "nn/training/regularizer.hpp"

namespace kiln::nn {

struct WeightOptions {
  Initializer init{"he_normal"};
  bool use_bias = true;
  float bias_init = 0.f;
  Regularization kernel_regularizer{};
  Regularization bias_regularizer{};

  // Adds these options to a layer's config.
  void add_to(Json& config) const;
  // Reads them from a layer's options (missing keys keep their defaults). Throws kiln::Error
  // naming `owner` for a malformed value.
  static WeightOptions from_json(const Json& options, const std::string& owner);
  static const std::set<std::string>& keys();
};

}  // namespace kiln::nn
