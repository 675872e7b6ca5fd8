// Pictures of what a trained network holds, for `kiln inspect --filters / --activations`:
//   filter_grid     a convolution's filters as a grid of tiles: for the first convolution of a
//                   colour model one RGB tile per filter (the lecture's Gabor-like edges and
//                   colour blobs), else one greyscale tile per (filter, input channel), a row per
//                   filter. Each tile is stretched to its own min..max, enlarged with nearest
//                   neighbours so a 3x3 kernel is visible.
//   activation_grid one image's feature maps after a layer: a greyscale tile per channel, each
//                   stretched to its own min..max (a channel that is zero everywhere stays black).
// Both return BGR images ready for cv::imwrite.
#pragma once

#include <opencv2/core.hpp>
#include <string>

#include "nn/model/model.hpp"

namespace kiln::pipeline {

// `layer` "": the first conv2d layer. Throws kiln::Error naming the layer when it is not a
// convolution, or the model has none.
cv::Mat filter_grid(nn::Model& model, const std::string& layer = "");

// The feature maps `layer` produced in the model's last forward pass (batch of one). Throws
// kiln::Error naming a layer the model does not have.
cv::Mat activation_grid(const nn::Model& model, const std::string& layer);

// activation_grid of `layer` after the model file's preprocessing and a forward pass of one image
// file (as kiln predict sees it). Throws kiln::Error naming the file that cannot be read.
cv::Mat image_activation_grid(const std::string& model_path, const std::string& image_path,
                              const std::string& layer);

// The index of the layer called `name`; throws kiln::Error listing the names when there is none.
std::size_t layer_index(const nn::Model& model, const std::string& name);

}  // namespace kiln::pipeline
