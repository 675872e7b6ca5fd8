// A Keras model config (model.to_json(), or the model_config a saved .h5 carries) as a kiln model
// config, so a Keras network's weights (io/interop/keras_weights.hpp) can be loaded by layer name.
//
// clang-format off
//   InputLayer                      the input: batch_input_shape (N, H, W, C) → (C, H, W)
//   Conv2D, Dense                   conv2d (groups, dilation), dense (same name); activation → a
//                                   layer after it: relu, relu6, sigmoid, tanh, softmax, swish /
//                                   silu, gelu, hard_silu, hard_sigmoid (Keras 2's 0.2x + 0.5 or
//                                   Keras 3's relu6(x + 3) / 6, told apart by Keras 3's "module")
//   DepthwiseConv2D                 conv2d with depth_multiplier (groups = channels)
//   SeparableConv2D                 conv2d "<name>_depthwise", then the 1x1 conv2d "<name>"
//   MaxPooling2D, AveragePooling2D  max/avg_pool2d         GlobalAveragePooling2D  global_avg_pool2d
//   BatchNormalization              batch_norm (epsilon, momentum; channels axis only)
//   Activation, ReLU, LeakyReLU     the activations above, leaky_relu; ReLU(max_value 6) relu6
//   Flatten, Dropout, Add, Concatenate (channels)   flatten, dropout, add, concat
//   ZeroPadding2D                   explicit padding of the convolution or pooling reading it
//   UpSampling2D                    upsample (size, nearest or bilinear)
// clang-format on
// Sequential and functional models (Keras 2's "Sequential", "Functional" and "Model") are read;
// channels_last only. A softmax at the output is dropped: kiln's loss and predict apply it. Any
// other layer class stops with its name, its class and what is supported.
#pragma once

#include <string>

#include "nn/json.hpp"

namespace kiln::io {

// {"input": [C, H, W], "layers": [...]}. `source` names the file in error messages.
Json kiln_config_from_keras(const Json& keras, const std::string& source);

}  // namespace kiln::io
