// Built-in model definitions by name, as configs for Sequential::from_config.
//   mlp: Dense 512 - ReLU - Dense 512 - ReLU - Dense num_classes (the Keras MNIST MLP).
#pragma once

#include <string>
#include <vector>

#include "nn/json.hpp"
#include "nn/tensor.hpp"

namespace kiln::nn {

// input: per-sample (C, H, W). Throws kiln::Error for an unknown name, listing the known ones.
Json builtin_model(const std::string& name, const Shape& input, std::int64_t num_classes);

std::vector<std::string> builtin_model_names();

}  // namespace kiln::nn
