// Blocks: entries of a "layers" list that stand for several layers, expanded before the graph is
// built, so models (and model files) only ever hold plain layers.
//
//   {"type": "residual", "filters": F, "strides": S (1), "shortcut": "auto"}
//
// is He et al. 2016's basic block, as the zoo's ResNets are built from it. For a block named B:
//   B_conv1 (3x3, stride S) → B_conv1_bn → B_relu1 → B_conv2 (3x3) → B_conv2_bn,
//   B_add = that + the block's input (through B_proj (1x1, stride S) → B_proj_bn when projected),
//   B = ReLU(B_add): the block's output carries its name, so later layers read it as "B".
// Convolutions are "same", without bias (batch norm follows), He-normal; batch norm momentum 0.9,
// epsilon 1e-5 (PyTorch's). "shortcut": "auto" projects where the shape changes (S ≠ 1, or an
// input of other than F channels: "option B"), "projection" always, "identity" never. A block
// takes "name" (default residual_<k>), "inputs" (one) and "trainable" as a layer does.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/json.hpp"
#include "nn/tensor.hpp"

namespace kiln::nn {

// The entries a block is made of, for models that use them outside blocks (the zoo's stems).
Json resnet_conv(std::int64_t filters, std::int64_t kernel, std::int64_t strides);
Json resnet_batch_norm();

bool is_block_type(const std::string& type);
std::vector<std::string> block_types();

// Checks a block's own options (those other than name, inputs and trainable) without shapes.
// Throws kiln::Error naming the option.
void check_block_options(const std::string& type, const Json& options);

// A model's "layers" on a per-sample `input` shape, with every block replaced by its layers in
// place and every layer named. A list without blocks comes back unchanged. Throws kiln::Error
// naming the block for bad options, several inputs, or an identity shortcut whose shapes differ,
// and the graph's errors (naming the layer) for the rest.
Json expand_blocks(const Json& layers, const Shape& input);

}  // namespace kiln::nn
