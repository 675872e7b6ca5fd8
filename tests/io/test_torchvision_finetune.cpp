// One torchvision network of each family (the ResNets' own path is OnnxImport's), end to end at
// 64 × 64: PyTorch's export
// imported, fine-tuned by `kiln train --fine-tune` for one epoch (every layer trained), exported
// again by `kiln export`, and the export run against kiln's own probabilities: by OpenCV's dnn
// where OpenCV 4.6 reads every op, by kiln's importer where it does not (Clip with opset-13
// bounds, LayerNorm's broadcasting Sub). Slow: eleven networks trained.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <opencv2/dnn.hpp>
#include <ostream>

#include "io/interop/onnx_import.hpp"
#include "io/model_file.hpp"
#include "nn/loss.hpp"
#include "nn/random.hpp"
#include "tests/support/dataset_files.hpp"
#include "tests/support/run_kiln.hpp"
#include "tests/support/temp_dir.hpp"

namespace kiln::io {
namespace {

struct Family {
  const char* builder;
  bool opencv_reads;  // OpenCV 4.6 runs the export (else kiln's importer checks it)
};

// gtest's listing names the builder, not the struct's bytes.
void PrintTo(const Family& family, std::ostream* out) { *out << family.builder; }

class TorchvisionFineTune : public ::testing::TestWithParam<Family> {};

std::vector<float> softmax(const nn::Tensor& logits) {
  nn::Tensor p;
  const std::vector<std::int32_t> labels(static_cast<std::size_t>(logits.shape().n), 0);
  nn::SoftmaxCrossEntropy::compute(logits, labels, nullptr, &p);
  return {p.span().begin(), p.span().end()};
}

// kiln's probabilities for 0..255 pixels, through the model's stored normalization.
std::vector<float> kiln_probabilities(ModelBundle& b, const nn::Tensor& pixels) {
  const Json& n = b.preprocessing.at("normalization");
  const auto mean = n.at("mean").get<std::vector<float>>();
  const auto std = n.at("std").get<std::vector<float>>();
  nn::Tensor x(pixels.shape());
  const std::int64_t plane = pixels.shape().h * pixels.shape().w;
  for (std::int64_t i = 0; i < x.size(); ++i) {
    const auto c = static_cast<std::size_t>((i / plane) % pixels.shape().c);
    x[i] = (pixels[i] - mean[c]) / std[c];
  }
  return softmax(b.model.forward(x, {}));
}

TEST_P(TorchvisionFineTune, FineTunesAndExportsAgain) {
  const Family family = GetParam();
  testing::TempDir dir;
  const std::string base = dir.file(family.builder);
  const auto exported = testing::kiln_shell(
      "/usr/bin/python3 " + std::string(KILN_TEST_SOURCE_DIR) + "/io/export_torchvision.py " +
      family.builder + " " + dir.path().string() + " --batch 1 --size 64 --classes 10");
  if (exported.exit_code == 3) GTEST_SKIP() << "needs python3-torch and python3-torchvision";
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  const auto imported = testing::kiln("import " + base + ".onnx -o " + base + ".h5");
  ASSERT_EQ(imported.exit_code, 0) << imported.output;

  testing::write_indexed_dataset(dir.file("data.h5"), 16, 64, 64, 3, 3);
  const auto tuned = testing::kiln("train " + dir.file("data.h5") + " -o " + dir.file("tuned.h5") +
                                   " --fine-tune " + base + ".h5 --epochs 1 --batch-size 8");
  ASSERT_EQ(tuned.exit_code, 0) << tuned.output;
  EXPECT_NE(tuned.output.find("skipped, shape differs"), std::string::npos) << tuned.output;
  ModelBundle before = load_model(base + ".h5"), after = load_model(dir.file("tuned.h5"));
  EXPECT_EQ(after.class_names.size(), 3u);
  // Training moved most weights (nothing was frozen). Not all: without batch norm (PyTorch's export
  // folds it into the convolutions) a random network's first gradients vanish below float's
  // resolution in its early layers.
  int moved = 0, compared = 0;
  for (std::size_t i = 0; i + 1 < after.model.size(); ++i) {
    const auto from = before.model.layer(i).parameters(), to = after.model.layer(i).parameters();
    for (std::size_t p = 0; p < from.size() && p < to.size(); ++p) {
      if (from[p]->value.shape() != to[p]->value.shape()) continue;
      ++compared;
      moved += !std::equal(from[p]->value.span().begin(), from[p]->value.span().end(),
                           to[p]->value.span().begin());
    }
  }
  EXPECT_GT(moved, compared / 2) << moved << " of " << compared << " weight tensors moved";

  const auto onnx = testing::kiln("export " + dir.file("tuned.h5") + " -o " + dir.file("t.onnx"));
  ASSERT_EQ(onnx.exit_code, 0) << onnx.output;
  nn::Tensor pixels({1, 3, 64, 64});
  nn::Rng rng({3, 1, 4, 1});
  for (float& p : pixels.span()) p = std::floor(rng.uniform(0.f, 256.f));
  const std::vector<float> expected = kiln_probabilities(after, pixels);
  std::vector<float> got;
  if (family.opencv_reads) {
    const int dims[] = {1, 3, 64, 64};
    cv::dnn::Net net = cv::dnn::readNetFromONNX(dir.file("t.onnx"));
    net.setInput(cv::Mat(4, dims, CV_32F, pixels.data()));
    const cv::Mat out = net.forward();
    got.assign(out.ptr<float>(), out.ptr<float>() + out.total());
  } else {
    nn::Model again = import_onnx(dir.file("t.onnx"));  // the normalization is its first layer
    got = softmax(again.forward(pixels, {}));
  }
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-4) << i;
}

INSTANTIATE_TEST_SUITE_P(
    Families, TorchvisionFineTune,
    ::testing::Values(Family{"mobilenet_v2", false}, Family{"mobilenet_v3_small", true},
                      Family{"efficientnet_b0", true}, Family{"regnet_y_400mf", true},
                      Family{"shufflenet_v2_x0_5", true}, Family{"convnext_tiny", false},
                      Family{"densenet121", true}, Family{"mnasnet0_5", true},
                      Family{"squeezenet1_1", true}, Family{"googlenet", true},
                      Family{"resnext50_32x4d", true}),
    [](const auto& test) { return std::string(test.param.builder); });

}  // namespace
}  // namespace kiln::io
