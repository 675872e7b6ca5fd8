#include "nn/layers/weights.hpp"

#include "nn/error.hpp"

namespace kiln::nn {

void WeightOptions::add_to(Json& config) const {
  config["init"] = init.to_json();
  config["use_bias"] = use_bias;
  config["bias_init"] = bias_init;
  config["kernel_regularizer"] = kernel_regularizer.to_json();
  config["bias_regularizer"] = bias_regularizer.to_json();
}

const std::set<std::string>& WeightOptions::keys() {
  static const std::set<std::string> names = {"init", "use_bias", "bias_init", "kernel_regularizer",
                                              "bias_regularizer"};
  return names;
}

WeightOptions WeightOptions::from_json(const Json& options, const std::string& owner) {
  WeightOptions w;
  if (options.contains("init")) w.init = Initializer::from_json(options.at("init"), owner);
  check_initializer_name(w.init.type, owner);
  if (options.contains("use_bias")) {
    if (!options.at("use_bias").is_boolean())
      throw Error(owner + ": use_bias must be true or false");
    w.use_bias = options.at("use_bias").get<bool>();
  }
  if (options.contains("bias_init")) {
    if (!options.at("bias_init").is_number()) throw Error(owner + ": bias_init must be a number");
    w.bias_init = options.at("bias_init").get<float>();
  }
  for (auto [key, target] : {std::pair{"kernel_regularizer", &w.kernel_regularizer},
                             std::pair{"bias_regularizer", &w.bias_regularizer}}) {
    if (options.contains(key))
      *target = Regularization::from_json(options.at(key), owner + " " + key);
  }
  return w;
}

}  // namespace kiln::nn
