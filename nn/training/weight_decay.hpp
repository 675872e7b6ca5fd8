// optimizer.no_decay: parameter kinds exempt from the optimizer's weight decay, as Goyal et al.
// 2017 exempt biases and batch norm's scale and shift (decaying them only pulls the network
// towards a scale it is invariant to). The optimizer reads Parameter::decays.
#pragma once

#include <string>
#include <vector>

#include "nn/model/model.hpp"

namespace kiln::nn {

// "bias": every parameter named bias; "batch_norm", "layer_norm": that norm's scale and shift.
const std::vector<std::string>& no_decay_kinds();

// Sets Parameter::decays for every parameter of the model: false for those of `kinds`, true for
// the rest. Returns how many parameters (tensors) are exempt. Throws kiln::Error naming an
// unknown kind and listing no_decay_kinds().
int exempt_from_weight_decay(Model& model, const std::vector<std::string>& kinds);

}  // namespace kiln::nn
