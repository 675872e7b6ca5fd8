// profile_layers: where a training step's time goes, layer by layer, set against the machine's
// limits (nn/kernels/machine_limits.hpp). What `kiln bench train --profile` prints.
//
// FLOPs are counted as the direct computation's (2 per multiply-accumulate of dense and conv2d
// layers; a Winograd convolution is credited with the direct count, so its rate is effective).
// The backward pass counts the weight gradient and, where a layer before it needs one, the input
// gradient. Element-wise layers count no FLOPs: their cost is the memory they stream.
// Bytes are the least traffic a layer can have: each tensor it reads or writes, once (forward:
// inputs, output, parameters; backward: inputs, output and its gradient, input gradients, and
// parameters with their gradients read and written). Real kernels move more (im2col, scratch).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/model/model.hpp"
#include "nn/training/optimizer.hpp"

namespace kiln::nn {

struct LayerCost {
  std::string name, type;
  Shape output;                                      // per sample
  double forward_seconds = 0, backward_seconds = 0;  // per step (one batch)
  double forward_flops = 0, backward_flops = 0;      // per step
  double forward_bytes = 0, backward_bytes = 0;      // per step
};

struct LayerProfile {
  std::vector<LayerCost> layers;  // in the config's order; absorbed ReLUs are left out
  double step_seconds = 0;        // median wall time of a whole training step
  std::string gemm;               // what runs the products (nn/kernels/gemm.hpp)
};

// Runs `warmup` untimed training steps, then `steps` timed ones on a synthetic batch, and returns
// each layer's mean time per step.
LayerProfile profile_layers(Model& model, Optimizer& optimizer, std::int64_t batch,
                            std::uint64_t seed, int warmup, int steps);

}  // namespace kiln::nn
