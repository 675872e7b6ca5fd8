#include "nn/zoo.hpp"

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

using Builder = std::function<Json(std::int64_t classes)>;

// The built-in architectures, as the examples that made them known define them (initializers as
// Keras' defaults: Glorot uniform). Inputs of other sizes work as long as the shapes fit.
const std::map<std::string, Builder>& builders() {
  static const std::map<std::string, Builder> table = {
      // 784-512-512-10 with ReLU (the Keras MNIST MLP, without its dropout).
      {"mlp",
       [](std::int64_t k) {
         return Json::array({dense(512), layer("relu"), dense(512), layer("relu"), dense(k)});
       }},
      // Keras examples/mnist_cnn.py.
      {"mnist_cnn",
       [](std::int64_t k) {
         return Json::array({conv(32), layer("relu"), conv(64), layer("relu"), max_pool(),
                             dropout(0.25), layer("flatten"), dense(128), layer("relu"),
                             dropout(0.5), dense(k)});
       }},
      // Keras examples/cifar10_cnn.py.
      {"cifar_cnn",
       [](std::int64_t k) {
         return Json::array({conv(32, "same"), layer("relu"), conv(32), layer("relu"), max_pool(),
                             dropout(0.25), conv(64, "same"), layer("relu"), conv(64),
                             layer("relu"), max_pool(), dropout(0.25), layer("flatten"), dense(512),
                             layer("relu"), dropout(0.5), dense(k)});
       }},
      // LeCun et al. 1998, with ReLU and max pooling as it is usually trained today: C5 is a
      // dense layer here, so 28x28 inputs work (conv1 uses "same" padding, as for MNIST).
      {"lenet5",
       [](std::int64_t k) {
         return Json::array({conv(6, "same", 5), layer("relu"), max_pool(), conv(16, "valid", 5),
                             layer("relu"), max_pool(), layer("flatten"), dense(120), layer("relu"),
                             dense(84), layer("relu"), dense(k)});
       }},
  };
  return table;
}

}  // namespace

std::vector<std::string> builtin_model_names() {
  std::vector<std::string> names;
  for (const auto& [name, builder] : builders()) names.push_back(name);
  return names;
}

Json builtin_model(const std::string& name, const Shape& input, std::int64_t num_classes) {
  const auto it = builders().find(name);
  if (it == builders().end()) {
    std::string names;
    for (const auto& n : builtin_model_names()) names += (names.empty() ? "" : ", ") + n;
    throw Error("unknown model '" + name + "'; built-in models: " + names);
  }
  return {{"input", {input.c, input.h, input.w}}, {"layers", it->second(num_classes)}};
}

}  // namespace kiln::nn
