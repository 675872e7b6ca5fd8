// make_layer(type, options): the one list of layer types (layers/registry.cpp), used to rebuild a
// model from its config (model files, config files). To add a layer, add one line there.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nn/layer.hpp"

namespace kiln::nn {

// Throws kiln::Error naming the unknown type or option and listing what is allowed.
std::unique_ptr<Layer> make_layer(const std::string& type, const Json& options);

std::vector<std::string> layer_types();

}  // namespace kiln::nn
