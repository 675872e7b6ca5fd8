#include "nn/zoo.hpp"

#include <algorithm>
#include <functional>
#include <map>

#include "nn/error.hpp"

namespace kiln::nn {
namespace {

Json conv(std::int64_t filters, const char* padding = "valid", std::int64_t kernel = 3) {
  return {{"type", "conv2d"},
          {"filters", filters},
          {"kernel_size", kernel},
          {"padding", padding},
          {"init", "glorot_uniform"}};
}
Json dense(std::int64_t units) {
  return {{"type", "dense"}, {"units", units}, {"init", "glorot_uniform"}};
}
Json layer(const char* type) { return {{"type", type}}; }
Json dropout(double rate) { return {{"type", "dropout"}, {"rate", rate}}; }
Json max_pool(std::int64_t size = 2) { return {{"type", "max_pool2d"}, {"pool_size", size}}; }

Json conv_s(std::int64_t filters, std::int64_t kernel, std::int64_t stride, const char* padding) {
  return {{"type", "conv2d"},  {"filters", filters}, {"kernel_size", kernel},
          {"strides", stride}, {"padding", padding}, {"init", "he_normal"}};
}
Json pool(std::int64_t size, std::int64_t stride, const char* padding) {
  return {{"type", "max_pool2d"}, {"pool_size", size}, {"strides", stride}, {"padding", padding}};
}
Json lrn() { return {{"type", "lrn"}, {"size", 5}, {"alpha", 1e-4}, {"beta", 0.75}, {"k", 2.0}}; }

struct ModelOptions {
  Shape input;
  std::int64_t classes = 10;
  double width = 1.0;  // multiplies every layer's channel and unit count (alexnet, vgg16)
  std::int64_t scaled(std::int64_t n) const {
    return std::max<std::int64_t>(1,
                                  static_cast<std::int64_t>(static_cast<double>(n) * width + 0.5));
  }
};

// AlexNet (Krizhevsky et al. 2012) as one tower, as Caffe's bvlc_alexnet. Inputs of 128 pixels or
// more use the ImageNet stem (11x11 stride 4, 3x3 stride 2 pools); smaller ones (CIFAR, MNIST) a
// 5x5 stride 1 stem with "same" pools, so the five stages fit a 28 or 32 pixel image.
Json alexnet(const ModelOptions& o) {
  const bool large = std::min(o.input.h, o.input.w) >= 128;
  Json layers = Json::array();
  layers.push_back(large ? conv_s(o.scaled(96), 11, 4, "valid")
                         : conv_s(o.scaled(96), 5, 1, "same"));
  for (const Json& l : {layer("relu"),
                        lrn(),
                        pool(3, 2, large ? "valid" : "same"),
                        conv_s(o.scaled(256), 5, 1, "same"),
                        layer("relu"),
                        lrn(),
                        pool(3, 2, large ? "valid" : "same"),
                        conv_s(o.scaled(384), 3, 1, "same"),
                        layer("relu"),
                        conv_s(o.scaled(384), 3, 1, "same"),
                        layer("relu"),
                        conv_s(o.scaled(256), 3, 1, "same"),
                        layer("relu"),
                        pool(3, 2, large ? "valid" : "same"),
                        layer("flatten"),
                        dense(o.scaled(4096)),
                        layer("relu"),
                        dropout(0.5),
                        dense(o.scaled(4096)),
                        layer("relu"),
                        dropout(0.5),
                        dense(o.classes)}) {
    layers.push_back(l);
  }
  return layers;
}

// VGG16 (Simonyan & Zisserman 2015, configuration D): 13 3x3 convolutions in five blocks, each
// followed by a 2x2 max pool ("same", so 28-pixel inputs fit), then 4096-4096-classes.
Json vgg16(const ModelOptions& o) {
  Json layers = Json::array();
  const std::int64_t blocks[5][2] = {{64, 2}, {128, 2}, {256, 3}, {512, 3}, {512, 3}};
  for (const auto& [filters, convs] : blocks) {
    for (std::int64_t i = 0; i < convs; ++i) {
      layers.push_back(conv_s(o.scaled(filters), 3, 1, "same"));
      layers.push_back(layer("relu"));
    }
    layers.push_back(pool(2, 2, "same"));
  }
  for (const Json& l : {layer("flatten"), dense(o.scaled(4096)), layer("relu"), dropout(0.5),
                        dense(o.scaled(4096)), layer("relu"), dropout(0.5), dense(o.classes)}) {
    layers.push_back(l);
  }
  return layers;
}

using Builder = std::function<Json(const ModelOptions&)>;

// The built-in architectures, as the examples that made them known define them (initializers as
// Keras' defaults: Glorot uniform). Inputs of other sizes work as long as the shapes fit.
const std::map<std::string, Builder>& builders() {
  static const std::map<std::string, Builder> table = {
      // 784-512-512-10 with ReLU (the Keras MNIST MLP, without its dropout).
      {"mlp",
       [](const ModelOptions& o) {
         const std::int64_t k = o.classes;
         return Json::array({dense(512), layer("relu"), dense(512), layer("relu"), dense(k)});
       }},
      // Keras examples/mnist_cnn.py.
      {"mnist_cnn",
       [](const ModelOptions& o) {
         const std::int64_t k = o.classes;
         return Json::array({conv(32), layer("relu"), conv(64), layer("relu"), max_pool(),
                             dropout(0.25), layer("flatten"), dense(128), layer("relu"),
                             dropout(0.5), dense(k)});
       }},
      // Keras examples/cifar10_cnn.py.
      {"cifar_cnn",
       [](const ModelOptions& o) {
         const std::int64_t k = o.classes;
         return Json::array({conv(32, "same"), layer("relu"), conv(32), layer("relu"), max_pool(),
                             dropout(0.25), conv(64, "same"), layer("relu"), conv(64),
                             layer("relu"), max_pool(), dropout(0.25), layer("flatten"), dense(512),
                             layer("relu"), dropout(0.5), dense(k)});
       }},
      // LeCun et al. 1998, with ReLU and max pooling as it is usually trained today: C5 is a
      // dense layer here, so 28x28 inputs work (conv1 uses "same" padding, as for MNIST).
      {"lenet5",
       [](const ModelOptions& o) {
         const std::int64_t k = o.classes;
         return Json::array({conv(6, "same", 5), layer("relu"), max_pool(), conv(16, "valid", 5),
                             layer("relu"), max_pool(), layer("flatten"), dense(120), layer("relu"),
                             dense(84), layer("relu"), dense(k)});
       }},
      {"alexnet", alexnet},
      {"vgg16", vgg16},
  };
  return table;
}

}  // namespace

std::vector<std::string> builtin_model_names() {
  std::vector<std::string> names;
  for (const auto& [name, builder] : builders()) names.push_back(name);
  return names;
}

Json builtin_model(const std::string& name, const Shape& input, std::int64_t num_classes,
                   const Json& options) {
  const auto it = builders().find(name);
  if (it == builders().end()) {
    std::string names;
    for (const auto& n : builtin_model_names()) names += (names.empty() ? "" : ", ") + n;
    throw Error("unknown model '" + name + "'; built-in models: " + names);
  }
  ModelOptions o{input, num_classes, 1.0};
  for (const auto& [key, value] : options.items()) {
    if (key != "width" || (name != "alexnet" && name != "vgg16")) {
      throw Error(
          "model " + name + ": unknown option '" + key + "'" +
          (name == "alexnet" || name == "vgg16" ? "; allowed: width" : "; it takes no options"));
    }
    if (!value.is_number() || !(value.get<double>() > 0)) {
      throw Error("model " + name + ": width must be a number > 0, got " + value.dump());
    }
    o.width = value.get<double>();
  }
  return {{"input", {input.c, input.h, input.w}}, {"layers", it->second(o)}};
}

}  // namespace kiln::nn
