// make_layer(type, options): the one list of layer types (layers/registry.cpp), used to rebuild a
// model from its config (model files, config files). To add a layer, add one line there.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nn/layer.hpp"

namespace kiln::nn {

// What the registry knows of a layer type besides how to build it: for --help, the README test and
// the registry-driven tests (config round trip, gradients by finite differences).
struct LayerInfo {
  std::string_view type;
  std::string_view example;  // options as JSON text, valid on a (2, 6, 6) input
};

// Throws kiln::Error naming the unknown type or option and listing what is allowed.
std::unique_ptr<Layer> make_layer(const std::string& type, const Json& options);

// Every registered type, sorted.
const std::vector<LayerInfo>& layer_infos();
std::vector<std::string> layer_types();

}  // namespace kiln::nn
