// Built-in model definitions by name, as configs for Model::from_config.
//   mlp        Dense 512 - ReLU - Dense 512 - ReLU - Dense classes (the Keras MNIST MLP)
//   mnist_cnn  Keras mnist_cnn.py: Conv32-Conv64-MaxPool-Dropout.25-Dense128-Dropout.5-Dense
//   cifar_cnn  Keras cifar10_cnn.py: 2x(Conv-Conv-MaxPool-Dropout) - Dense512 - Dropout.5 - Dense
//   lenet5     LeCun 1998 with ReLU and max pooling: Conv6x5-Pool-Conv16x5-Pool-120-84-classes
//   alexnet    Krizhevsky 2012, one tower with LRN; a small-image stem below 128 pixels
//   vgg16      Simonyan & Zisserman 2015, configuration D
//   resnet20   He et al. 2016's CIFAR ResNet: 3 stages of 3 basic blocks (16/32/64), 0.27 M params
//   resnet18   He et al. 2016's ImageNet ResNet-18, as torchvision builds it (11.7 M params)
// The ResNets are graphs of "residual" blocks (nn/model/blocks.hpp), returned expanded into layers; the
// rest are chains.
// alexnet, vgg16 and the ResNets take {"width": w}: every channel and unit count is multiplied by
// w (e.g. 0.25 to train them on small images on a CPU).
#pragma once

#include <string>
#include <vector>

#include "nn/json.hpp"
#include "nn/tensor.hpp"

namespace kiln::nn {

// input: per-sample (C, H, W). Throws kiln::Error for an unknown name, listing the known ones.
Json builtin_model(const std::string& name, const Shape& input, std::int64_t num_classes,
                   const Json& options = Json::object());

std::vector<std::string> builtin_model_names();
bool model_takes_width(const std::string& name);

}  // namespace kiln::nn
