// kiln import of torchvision's classification networks, exported by PyTorch itself with random
// weights, against PyTorch's own outputs (slow: full-size networks at 224 × 224).
//   FullSize:  alexnet, vgg11 and resnet18 within 2e-6 of the largest logit.
//   Families:  one builder of each family at opsets 11 and 13: it imports and matches within 1e-4
//              of the largest logit (a refusal is printed as the one line kiln stops with).
//              KILN_TORCHVISION_MODELS=all runs every builder
//              (`export_torchvision.py --list`), or a comma-separated list names them: the table
//              in docs/interop.md (scripts/torchvision-import-table.sh).
#include <gtest/gtest.h>

#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "io/model_file.hpp"
#include "nn/error.hpp"
#include "tests/support/run_kiln.hpp"
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

// A one-channel network as people export one from PyTorch (Conv2d(1, ·), a view(N, -1) flatten:
// Shape, Gather, Unsqueeze, Concat before the Reshape): it matches PyTorch, and `kiln import`
// without --channel-order stores the channel order L.
TEST(TorchGreyNetwork, ImportsAsLWithoutAChannelOrder) {
  testing::TempDir dir;
  const auto ref =
      testing::export_torchvision("grey_cnn", dir.path().string(), "--classes 10 --size 28");
  if (!ref) GTEST_SKIP() << "needs python3-torch and python3-torchvision";
  testing::expect_import_matches(*ref, 1e-5);
  const testing::Invocation r =
      testing::kiln("import " + ref->onnx_path + " -o " + dir.file("grey.h5"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(load_model(dir.file("grey.h5")).preprocessing["normalization"]["channel_order"], "L");
}

// F.interpolate, nearest and bilinear (align_corners=False), as PyTorch exports it at opsets 11
// and 13 (Resize with scales, or with sizes it computes from Shape), against PyTorch's outputs.
TEST(TorchInterpolate, ResizeMatchesPyTorch) {
  for (const int opset : {11, 13}) {
    testing::TempDir dir;
    const std::string script =
        std::string(KILN_TEST_SOURCE_DIR) + "/io/export_torch_interpolate.py";
    const int status = std::system(("/usr/bin/python3 " + script + " " + dir.path().string() + " " +
                                    std::to_string(opset) + " > /dev/null 2>&1")
                                       .c_str());
    if (WIFEXITED(status) && WEXITSTATUS(status) == 3) GTEST_SKIP() << "needs python3-torch";
    ASSERT_EQ(status, 0);
    const std::string base = dir.file("interpolate");
    const testing::TorchReference ref{base + ".onnx", testing::read_floats(base + ".input.bin"),
                                      testing::read_floats(base + ".logits.bin")};
    EXPECT_LE(testing::expect_import_matches(ref, 1e-5), 1e-5) << "opset " << opset;
    nn::Model model = import_onnx(ref.onnx_path);
    int upsamples = 0;
    for (std::size_t i = 0; i < model.size(); ++i) upsamples += model.layer(i).type() == "upsample";
    EXPECT_EQ(upsamples, 2) << "opset " << opset;
  }
}

// One builder per family of torchvision 0.14's classification models (transformers aside).
const std::vector<std::string> kFamilyRepresentatives = {
    "alexnet",        "convnext_tiny",  "densenet121",    "efficientnet_b0", "efficientnet_v2_s",
    "googlenet",      "inception_v3",   "mnasnet0_5",     "mobilenet_v2",    "mobilenet_v3_small",
    "regnet_x_400mf", "regnet_y_400mf", "resnet50",       "resnext50_32x4d", "shufflenet_v2_x0_5",
    "squeezenet1_1",  "vgg11_bn",       "wide_resnet50_2"};

std::vector<std::string> models_to_check() {
  const char* chosen = std::getenv("KILN_TORCHVISION_MODELS");
  if (chosen == nullptr || std::string(chosen).empty()) return kFamilyRepresentatives;
  std::string names = chosen;
  if (names == "all") {
    const std::string command = "/usr/bin/python3 " + std::string(KILN_TEST_SOURCE_DIR) +
                                "/io/export_torchvision.py --list";
    names.clear();
    if (FILE* pipe = popen(command.c_str(), "r")) {
      char buffer[256];
      while (fgets(buffer, sizeof buffer, pipe)) names += std::string(buffer);
      pclose(pipe);
    }
    std::replace(names.begin(), names.end(), '\n', ',');
  }
  std::vector<std::string> models;
  std::stringstream in(names);
  for (std::string m; std::getline(in, m, ',');)
    if (!m.empty()) models.push_back(m);
  return models;
}

// The largest difference between kiln's and PyTorch's logits, relative to the largest logit.
double relative_difference(const testing::TorchReference& ref) {
  nn::Model model = import_onnx(ref.onnx_path);
  const nn::Shape in = model.input_shape();
  nn::Tensor x(in.with_n(static_cast<std::int64_t>(ref.input.size()) / in.per_sample()));
  std::copy(ref.input.begin(), ref.input.end(), x.data());
  const nn::Tensor& y = model.forward(x, {});
  if (static_cast<std::size_t>(y.size()) != ref.logits.size()) return 1e9;
  double scale = 1.0, worst = 0.0;
  for (const float v : ref.logits) scale = std::max(scale, static_cast<double>(std::abs(v)));
  for (std::size_t i = 0; i < ref.logits.size(); ++i)
    worst = std::max(worst, std::abs(y[static_cast<std::int64_t>(i)] - ref.logits[i]) * 1.0);
  return worst / scale;
}

constexpr const char* kExportFailed = "PyTorch's export failed";

int run_exporter(const std::string& arguments) {
  const std::string command = "/usr/bin/python3 " + std::string(KILN_TEST_SOURCE_DIR) +
                              "/io/export_torchvision.py " + arguments + " > /dev/null 2>&1";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// One table cell: "3.1e-07" when it imports, "refused: <the error>" when it stops.
std::string check(const std::string& model, int opset, bool& matched) {
  testing::TempDir dir;
  matched = false;
  const std::string base = dir.path().string() + "/" + model;
  if (run_exporter(model + " " + dir.path().string() + " --batch 2 --classes 100 --opset " +
                   std::to_string(opset)) != 0) {
    return kExportFailed;
  }
  const testing::TorchReference ref{base + ".onnx", testing::read_floats(base + ".input.bin"),
                                    testing::read_floats(base + ".logits.bin")};
  try {
    const double difference = relative_difference(ref);
    std::ostringstream cell;
    cell << std::setprecision(1) << std::scientific << difference;
    matched = difference <= 1e-4;
    return cell.str();
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << model << ": not one line: " << what;
    // The table cell: the node, its op and why, without the list of supported ops.
    const auto node = what.find("node '"), list = what.find("; supported ops");
    return "refused: " + (node == std::string::npos ? what : what.substr(node, list - node));
  }
}

TEST(TorchvisionFamilies, ImportAndMatchOrRefuseInOneLine) {
  if (run_exporter("--list") == 3) GTEST_SKIP() << "needs python3-torch and python3-torchvision";
  int imported = 0, total = 0;
  std::cout << "| builder | opset 11 | opset 13 |\n| --- | --- | --- |\n";
  for (const std::string& model : models_to_check()) {
    SCOPED_TRACE(model);
    bool match11 = false, match13 = false;
    const std::string at11 = check(model, 11, match11), at13 = check(model, 13, match13);
    std::cout << "| " << model << " | " << at11 << " | " << at13 << " |" << std::endl;
    ++total;
    imported += match11 && match13;
    // A network PyTorch cannot export (over protobuf's 2 GB) is reported, not kiln's failure.
    if (at11 != kExportFailed) {
      EXPECT_TRUE(match11) << "opset 11: " << at11;
    }
    if (at13 != kExportFailed) {
      EXPECT_TRUE(match13) << "opset 13: " << at13;
    }
  }
  std::cout << imported << " of " << total << " builders import and match at both opsets\n";
}

}  // namespace
}  // namespace kiln::io
