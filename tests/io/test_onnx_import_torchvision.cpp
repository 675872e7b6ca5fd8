// kiln import of the full-size torchvision networks the ONNX importer is meant for, against
// PyTorch's own outputs (slow: VGG-11 alone has 133 M parameters).
#include <gtest/gtest.h>

#include <iostream>

#include "tests/support/temp_dir.hpp"
#include "tests/support/torchvision_reference.hpp"

namespace kiln::io {
namespace {

class TorchvisionImport : public ::testing::TestWithParam<const char*> {};

TEST_P(TorchvisionImport, MatchesPyTorch) {
  testing::TempDir dir;
  const auto ref = testing::export_torchvision(GetParam(), dir.path().string());
  if (!ref) GTEST_SKIP() << "needs python3-torch and python3-torchvision";
  const double difference = testing::expect_import_matches(*ref, 2e-6);
  std::cout << GetParam() << ": largest difference / largest logit " << difference << "\n";
}

INSTANTIATE_TEST_SUITE_P(FullSize, TorchvisionImport,
                         ::testing::Values("alexnet", "vgg11", "resnet18"));

}  // namespace
}  // namespace kiln::io
