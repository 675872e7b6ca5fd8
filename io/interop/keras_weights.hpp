// Keras HDF5 weight files (model.save_weights, or the /model_weights group of model.save, as the
// Keras applications ship them) onto a kiln model.
//
// The layout: the root (or /model_weights) has the attribute layer_names; each layer's group has
// weight_names ("block1_conv1/kernel:0", ...), each a float dataset at <layer>/<weight name>.
// Keras stores channels-last, so the weights are laid out again:
// clang-format off
//   Conv2D kernel      (KH, KW, C, F)  → kiln (F, C, KH, KW)
//   DepthwiseConv2D    (KH, KW, C, M)  → kiln (C·M, 1, KH, KW); a SeparableConv2D's depthwise
//                                        kernel so onto "<name>_depthwise", its pointwise one as
//                                        a Conv2D kernel onto "<name>"
//   Dense kernel       (in, units)     → kiln (units, in); after a Flatten of an (H, W, C) map
//                                        Keras' inputs are in HWC order, kiln's in CHW: permuted
//   BatchNormalization gamma, beta, moving_mean, moving_variance → gamma, beta, running_*
// clang-format on
// Layers are matched by name when every Keras layer with weights has a kiln layer of that name
// (a model built from the Keras config), otherwise in order (a zoo model: the same architecture
// with other names). Any mismatch is one line naming the layer and the two shapes.
#pragma once

#include <string>

#include "nn/json.hpp"
#include "nn/model/model.hpp"

namespace kiln::io {

// The Keras model config a file saved by model.save carries (root attribute model_config), or
// null when it holds weights only.
Json keras_model_config(const std::string& path);

// The units of the file's last layer with weights (its kernel's last dimension): the class count
// a zoo model is built with.
std::int64_t keras_output_units(const std::string& path);

// Copies every weight of the file into `model`. Throws kiln::Error naming the file, the layer and
// both shapes on any mismatch, and the layers left over when the counts differ.
void load_keras_weights(const std::string& path, nn::Model& model);

}  // namespace kiln::io
