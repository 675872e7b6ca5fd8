// Warm starts: a model's layers take the weights of the layers of another model that have the
// same name, the same type and parameters of the same shapes (batch norm's running statistics
// too). So a smaller network can start a deeper one whose first layers it shares (VGG's trick), and
// a trained network can start one with a new head for other classes (its old head is skipped: the
// shapes differ).
#pragma once

#include <string>
#include <vector>

#include "nn/model/model.hpp"

namespace kiln::nn {

struct WarmStartReport {
  std::vector<std::string> copied;   // layer names
  std::vector<std::string> fresh;    // in `to` only (or another type there): keep their init
  std::vector<std::string> skipped;  // "dense_3: (10, 512, 1, 1) there, (2, 512, 1, 1) here"
  // "copied 5 layers (conv2d_1, ...); new: ...; skipped, shape differs: ..."
  std::string str() const;
};

// Layers without parameters or buffers are not counted.
WarmStartReport copy_matching_layers(Model& from, Model& to);

}  // namespace kiln::nn
