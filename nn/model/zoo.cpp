#include "nn/model/zoo.hpp"

#include <algorithm>
#include <functional>
#include <map>

#include "nn/error.hpp"
#include "nn/model/blocks.hpp"

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
  double width = 1.0;  // multiplies every layer's channel and unit count (kWidthModels)
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

// Appends named layers (and blocks) to a chain.
class GraphWriter {
 public:
  Json layers() const { return layers_; }

  void add(Json layer, const std::string& name) {
    layer["name"] = name;
    layers_.push_back(std::move(layer));
  }
  // conv (no bias: batch norm follows) → batch norm, as ResNets use them. PyTorch's batch norm
  // defaults (momentum 0.1 there, 0.9 here; ε 1e-5).
  void conv_bn(const std::string& name, std::int64_t filters, std::int64_t kernel,
               std::int64_t stride) {
    add(resnet_conv(filters, kernel, stride), name);
    add(resnet_batch_norm(), name + "_bn");
  }

  // Stages of basic blocks (nn/model/blocks.hpp), projected where the shape changes; the first block
  // of every stage but the first halves the size.
  void stages(const std::vector<std::int64_t>& filters, int blocks) {
    for (std::size_t s = 0; s < filters.size(); ++s) {
      for (int b = 0; b < blocks; ++b) {
        add({{"type", "residual"}, {"filters", filters[s]}, {"strides", s > 0 && b == 0 ? 2 : 1}},
            "stage" + std::to_string(s + 1) + "_block" + std::to_string(b + 1));
      }
    }
  }

 private:
  Json layers_ = Json::array();
};

// ResNet-20 for CIFAR (He et al. 2016, section 4.2): 3x3 conv 16, three stages of three basic
// blocks (16, 32, 64 filters; 6n + 2 layers with n = 3), global average pool, dense. About 0.27 M
// parameters; any input size.
Json resnet20(const ModelOptions& o) {
  GraphWriter g;
  g.conv_bn("stem", o.scaled(16), 3, 1);
  g.add(layer("relu"), "stem_relu");
  g.stages({o.scaled(16), o.scaled(32), o.scaled(64)}, 3);
  g.add(layer("global_avg_pool2d"), "pool");
  g.add(dense(o.classes), "classifier");
  return g.layers();
}

// ResNet-18 in its ImageNet form, as torchvision builds it: 7x7/2 conv 64, 3x3/2 max pool, four
// stages of two basic blocks (64, 128, 256, 512), global average pool, dense. 11,689,512
// parameters at width 1 for 1000 classes; "width" scales every stage.
Json resnet18(const ModelOptions& o) {
  GraphWriter g;
  g.conv_bn("stem", o.scaled(64), 7, 2);
  g.add(layer("relu"), "stem_relu");
  g.add(pool(3, 2, "same"), "stem_pool");
  g.stages({o.scaled(64), o.scaled(128), o.scaled(256), o.scaled(512)}, 2);
  g.add(layer("global_avg_pool2d"), "pool");
  g.add(dense(o.classes), "classifier");
  return g.layers();
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
      {"resnet20", resnet20},
      {"resnet18", resnet18},
  };
  return table;
}

}  // namespace

bool model_takes_width(const std::string& name) {
  return name == "alexnet" || name == "vgg16" || name == "resnet20" || name == "resnet18";
}

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
  const bool takes_width = model_takes_width(name);
  for (const auto& [key, value] : options.items()) {
    if (key != "width" || !takes_width) {
      throw Error("model " + name + ": unknown option '" + key + "'" +
                  (takes_width ? "; allowed: width" : "; it takes no options"));
    }
    if (!value.is_number() || !(value.get<double>() > 0)) {
      throw Error("model " + name + ": width must be a number > 0, got " + value.dump());
    }
    o.width = value.get<double>();
  }
  return {{"input", {input.c, input.h, input.w}}, {"layers", expand_blocks(it->second(o), input)}};
}

}  // namespace kiln::nn
