// The full-size ImageNet architectures against their published parameter counts. Slow (about a
// gigabyte of weights is allocated), so it lives with the e2e tests.
#include <gtest/gtest.h>

#include "nn/model/model.hpp"
#include "nn/model/zoo.hpp"

namespace kiln::nn {
namespace {

TEST(ZooFullSize, Vgg16HasKerasParameterCount) {
  // Keras applications.VGG16(weights=None): 138,357,544 parameters on 224x224x3, 1000 classes.
  EXPECT_EQ(Model::from_config(builtin_model("vgg16", {1, 3, 224, 224}, 1000)).parameter_count(),
            138357544);
}

TEST(ZooFullSize, AlexnetHasTheOneTowerParameterCount) {
  // Caffe's bvlc_alexnet has 60,965,224 with its two-group convolutions (conv2, conv4, conv5);
  // one tower doubles those three layers' weights: + 307,200 + 663,552 + 442,368 = 62,378,344.
  EXPECT_EQ(Model::from_config(builtin_model("alexnet", {1, 3, 227, 227}, 1000)).parameter_count(),
            62378344);
}

}  // namespace
}  // namespace kiln::nn
