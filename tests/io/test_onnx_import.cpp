// kiln import against independent runtimes: PyTorch's own outputs for torchvision networks it
// exported, and OpenCV's dnn module for hand-built graphs that use every op the importer reads.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <opencv2/dnn.hpp>
#include <string>
#include <vector>

#include "io/interop/onnx_export.hpp"
#include "io/interop/onnx_import.hpp"
#include "io/model_file.hpp"
#include "nn/error.hpp"
#include "nn/loss.hpp"
#include "nn/random.hpp"
#include "pipeline/inference/model_import.hpp"
#include "tests/support/dataset_files.hpp"
#include "tests/support/onnx_graph.hpp"
#include "tests/support/run_kiln.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/torchvision_reference.hpp"

namespace kiln::io {
namespace {

TEST(OnnxImport, EveryOpMatchesOpenCv) {
  testing::TempDir dir;
  OnnxGraph g({2, 3, 9, 9});
  using G = OnnxGraph;
  // Conv with asymmetric pads and stride 2: (4, 5, 4)
  auto& conv = g.node("Conv", {"x", g.weight("w1", {4, 3, 3, 3}), g.weight("b1", {4})}, "c1");
  G::ints(conv, "kernel_shape", {3, 3});
  G::ints(conv, "strides", {2, 2});
  G::ints(conv, "pads", {1, 0, 2, 1});
  g.node("BatchNormalization",
         {"c1", g.weight("s", {4}, 0.5f, 1.5f), g.weight("bb", {4}), g.weight("m", {4}),
          g.weight("v", {4}, 0.5f, 2.f)},
         "bn");
  G::real(g.node("LeakyRelu", {"bn"}, "act"), "alpha", 0.1f);
  // Two branches of (4, 3, 2): a ceil-mode max pool and a padded average pool
  auto& max = g.node("MaxPool", {"act"}, "maxp");
  G::ints(max, "kernel_shape", {2, 2});
  G::ints(max, "strides", {2, 2});
  G::integer(max, "ceil_mode", 1);
  auto& avg = g.node("AveragePool", {"act"}, "avgp");
  G::ints(avg, "kernel_shape", {3, 3});
  G::ints(avg, "strides", {2, 2});
  G::ints(avg, "pads", {1, 1, 1, 1});
  G::integer(g.node("Concat", {"maxp", "avgp"}, "cat"), "axis", 1);
  auto& lrn = g.node("LRN", {"cat"}, "lrn");
  G::integer(lrn, "size", 3);
  G::real(lrn, "alpha", 0.3f);
  G::real(lrn, "bias", 1.5f);
  G::ints(g.node("Conv", {"lrn", g.weight("w2", {6, 8, 1, 1})}, "c2"), "kernel_shape", {1, 1});
  g.node("Sigmoid", {"c2"}, "sig");
  g.node("Tanh", {"sig"}, "tanh");
  g.node("Add", {"sig", "tanh"}, "sum");
  g.node("Relu", {"sum"}, "relu");
  g.node("Reshape", {"relu", g.shape("to", {0, -1})}, "flat");
  g.node("MatMul", {"flat", g.weight("w3", {36, 5})}, "mm");
  g.node("Add", {"mm", g.weight("b3", {5})}, "fc");
  g.node("Dropout", {"fc"}, "drop");
  g.node("Softmax", {"drop"}, "prob");
  const std::string path = g.save(dir.file("ops.onnx"), "prob");
  expect_opencv_agrees(path, {2, 3, 9, 9});

  nn::Model model = import_onnx(path);
  EXPECT_EQ(model.layer_name(0), "c1");  // "/c1/Conv": the op type dropped
  EXPECT_EQ(model.size(), 15u);          // Softmax dropped, MatMul + Add one dense layer
}

// Graphs as CNTK and Caffe2 exported them (the ONNX model zoo's MNIST, opset 8): the input
// reshaped to its own size, a convolution's bias as a separate Add of a (C, 1, 1) initializer, a
// flatten to (1, D) with a fixed batch, and the dense weight reshaped from 4-D before its MatMul.
TEST(OnnxImport, CntkStyleGraphsFoldTheirConstants) {
  testing::TempDir dir;
  OnnxGraph g({1, 1, 12, 12});
  using G = OnnxGraph;
  g.node("Reshape", {"x", g.shape("in_shape", {1, 1, 12, 12})}, "x2");
  auto& conv = g.node("Conv", {"x2", g.weight("w1", {4, 1, 3, 3})}, "c1");
  G::ints(conv, "kernel_shape", {3, 3});
  G::ints(conv, "pads", {1, 1, 1, 1});
  g.node("Add", {"c1", g.weight("b1", {4, 1, 1})}, "plus");
  g.node("Relu", {"plus"}, "relu");
  auto& pool = g.node("MaxPool", {"relu"}, "pool");
  G::ints(pool, "kernel_shape", {2, 2});
  G::ints(pool, "strides", {2, 2});
  g.node("Reshape", {"pool", g.shape("flat_shape", {1, 4 * 6 * 6})}, "flat");
  g.node("Reshape", {g.weight("w2_4d", {4, 6, 6, 3}), g.shape("w2_shape", {144, 3})}, "w2");
  g.node("MatMul", {"flat", "w2"}, "times");
  g.node("Add", {"times", g.weight("b2", {1, 3})}, "out");
  g.node("Softmax", {"out"}, "prob");
  const std::string path = g.save(dir.file("cntk.onnx"), "prob");
  expect_opencv_agrees(path, {1, 1, 12, 12});
  nn::Model model = import_onnx(path);
  // conv (its bias folded in), relu, pool, flatten, dense (its weight folded, its bias folded)
  EXPECT_EQ(model.size(), 5u);
}

// PyTorch's flatten of opset 11–13 exports: Shape → Gather → Unsqueeze → Concat with a Constant
// −1 → Reshape; the Shape of a layer's output is known once the input's size is.
TEST(OnnxImport, PyTorchShapeChainsFoldIntoAFlatten) {
  testing::TempDir dir;
  OnnxGraph g({1, 2, 6, 6});
  using G = OnnxGraph;
  G::ints(g.node("Conv", {"x", g.weight("w", {3, 2, 3, 3}), g.weight("b", {3})}, "c"),
          "kernel_shape", {3, 3});
  g.node("Relu", {"c"}, "r");
  // Constant nodes of int64 values: a scalar (no dims) or a vector.
  const auto constant = [&](const std::string& name, std::int64_t v, bool scalar) {
    auto* value = g.node("Constant", {}, name).add_attribute();
    value->set_name("value");
    value->set_type(onnx::AttributeProto::TENSOR);
    value->mutable_t()->set_data_type(onnx::TensorProto::INT64);
    if (!scalar) value->mutable_t()->add_dims(1);
    value->mutable_t()->add_int64_data(v);
  };
  g.node("Shape", {"r"}, "shape");
  constant("zero", 0, true);
  constant("minus_one", -1, false);
  G::integer(g.node("Gather", {"shape", "zero"}, "batch"), "axis", 0);
  g.node("Unsqueeze", {"batch", g.shape("axes", {0})}, "batch1");
  G::integer(g.node("Concat", {"batch1", "minus_one"}, "to"), "axis", 0);
  g.node("Reshape", {"r", "to"}, "flat");
  auto& gemm = g.node("Gemm", {"flat", g.weight("fc", {4, 48}), g.weight("fcb", {4})}, "fc_out");
  G::integer(gemm, "transB", 1);
  g.node("Softmax", {"fc_out"}, "prob");
  const std::string path = g.save(dir.file("torch_flatten.onnx"), "prob");
  expect_opencv_agrees(path, {1, 2, 6, 6});
  EXPECT_EQ(import_onnx(path).size(), 4u);  // conv, relu, flatten, dense
}

// Y = alpha · A Bᵀ + beta · C, against that sum worked out here (OpenCV 4.6 ignores alpha and beta).
TEST(OnnxImport, GemmFoldsAlphaAndBeta) {
  testing::TempDir dir;
  OnnxGraph g({3, 1, 4, 4});
  g.node("Flatten", {"x"}, "flat");
  auto& gemm = g.node("Gemm", {"flat", g.weight("w", {7, 16}), g.weight("b", {7})}, "fc");
  OnnxGraph::integer(gemm, "transB", 1);
  OnnxGraph::real(gemm, "alpha", 0.5f);
  OnnxGraph::real(gemm, "beta", 2.f);
  nn::Model model = import_onnx(g.save(dir.file("gemm.onnx"), "fc"));
  const std::vector<float> w = g.values("w"), b = g.values("b");
  nn::Tensor x({3, 1, 4, 4});
  for (std::int64_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 11) - 5.f;
  const nn::Tensor& y = model.forward(x, {});
  for (std::int64_t n = 0; n < 3; ++n) {
    for (std::int64_t u = 0; u < 7; ++u) {
      double sum = 0;
      for (std::int64_t i = 0; i < 16; ++i) sum += w[u * 16 + i] * x[n * 16 + i];
      EXPECT_NEAR(y[n * 7 + u], 0.5 * sum + 2.0 * b[u], 1e-5) << n << ", " << u;
    }
  }
}

TEST(OnnxImport, BgrNetworksTakeRgbImagesOnceImported) {
  testing::TempDir dir;
  OnnxGraph g({2, 3, 5, 5});
  auto& conv = g.node("Conv", {"x", g.weight("w", {2, 3, 3, 3})}, "c");
  OnnxGraph::ints(conv, "pads", {1, 1, 1, 1});
  OnnxGraph::ints(conv, "kernel_shape", {3, 3});
  g.node("GlobalAveragePool", {"c"}, "gap");
  g.node("Flatten", {"gap"}, "flat");
  g.node("Softmax", {"flat"}, "prob");
  const std::string path = g.save(dir.file("bgr.onnx"), "prob");
  expect_opencv_agrees(path, {2, 3, 5, 5}, {.bgr_input = true}, /*reverse_channels=*/true);
}

std::string import_error(const std::string& path, OnnxImportOptions options = {}) {
  try {
    import_onnx(path, options);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

// Weights kept beside the model (ONNX's external data, as torch.onnx.export writes networks over
// 2 GB, torchvision's regnet_y_128gf): read from the file, at their offsets.
TEST(OnnxImport, ExternalDataIsReadFromBesideTheModel) {
  testing::TempDir dir;
  OnnxGraph g({1, 2, 4, 4});
  auto& conv = g.node("Conv", {"x", g.weight("w", {3, 2, 3, 3}), g.weight("b", {3})}, "c");
  OnnxGraph::ints(conv, "kernel_shape", {3, 3});
  g.node("Flatten", {"c"}, "f");
  const std::vector<float> w = g.values("w"), b = g.values("b");
  g.move_to_external_data("w", dir.path().string(), "weights.bin", 0);
  g.move_to_external_data("b", dir.path().string(), "weights.bin", 4 * 54 + 8);  // 8 bytes on
  const std::string path = g.save(dir.file("external.onnx"), "f");
  nn::Model model = import_onnx(path);
  const auto params = model.layer(0).parameters();
  EXPECT_EQ(std::vector<float>(params[0]->value.span().begin(), params[0]->value.span().end()), w);
  EXPECT_EQ(std::vector<float>(params[1]->value.span().begin(), params[1]->value.span().end()), b);

  std::filesystem::remove(dir.file("weights.bin"));
  const std::string e = import_error(path);
  EXPECT_NE(e.find("tensor 'w': cannot read its external data file"), std::string::npos) << e;
  EXPECT_NE(e.find("keep it next to the model"), std::string::npos) << e;
}

TEST(OnnxImport, UnsupportedNodesAndBadFilesAreNamed) {
  testing::TempDir dir;
  {
    OnnxGraph g({1, 3, 4, 4});
    g.node("Relu", {"x"}, "r");
    g.node("Selu", {"r"}, "h");
    const std::string e = import_error(g.save(dir.file("op.onnx"), "h"));
    EXPECT_NE(e.find("op.onnx: node '/h/Selu' (Selu): not supported; supported ops: Conv"),
              std::string::npos)
        << e;
  }
  {
    OnnxGraph g({1, 4, 4, 4});
    auto& clip = g.node("Clip", {"x"}, "c");
    OnnxGraph::real(clip, "min", -1.f);
    OnnxGraph::real(clip, "max", 1.f);
    const std::string e = import_error(g.save(dir.file("clip.onnx"), "c"));
    EXPECT_NE(e.find("(Clip): clips to [-1.000000, 1.000000]; kiln reads Clip as ReLU6 (0, 6)"),
              std::string::npos)
        << e;
  }
  {
    OnnxGraph g({1, 3, 4, 4});
    g.node("Softmax", {"x"}, "s");
    g.node("Relu", {"s"}, "r");
    const std::string e = import_error(g.save(dir.file("softmax.onnx"), "r"));
    EXPECT_NE(e.find("a Softmax inside the network is not supported"), std::string::npos) << e;
  }
  {
    OnnxGraph g({1, 1, 4, 4});
    g.node("Flatten", {"x"}, "f");
    g.node("Gemm", {"f", g.weight("w", {16, 3})}, "fc");
    const std::string path = g.save(dir.file("size.onnx"), "fc");
    const std::string e = import_error(path, {.input = nn::Shape{1, 1, 5, 5}});
    EXPECT_NE(e.find("layer 'fc': its weight has 48 values in the ONNX file, 75 here"),
              std::string::npos)
        << e;
  }
  std::ofstream(dir.file("text.onnx")) << "not a protobuf";
  EXPECT_NE(import_error(dir.file("text.onnx")).find("text.onnx: not an ONNX model"),
            std::string::npos);
}

TEST(OnnxImport, TorchvisionResNet18MatchesPyTorch) {
  testing::TempDir dir;
  for (const std::string flags : {"", "--keep-batchnorm"}) {
    SCOPED_TRACE("export flags: " + flags);
    const auto ref =
        testing::export_torchvision("resnet18", dir.path().string(), "--classes 10 " + flags);
    if (!ref) GTEST_SKIP() << "needs python3-torch and python3-torchvision";
    const double difference = testing::expect_import_matches(*ref, 2e-6);
    std::cout << "resnet18 " << flags << ": largest difference / largest logit " << difference
              << "\n";
  }
}

// Import → save with torchvision's preprocessing → kiln export → OpenCV: PyTorch's probabilities.
TEST(OnnxImport, ImportedModelExportsToOnnxThatOpenCvRuns) {
  testing::TempDir dir;
  const auto ref = testing::export_torchvision("resnet18", dir.path().string(), "--classes 10");
  if (!ref) GTEST_SKIP() << "needs python3-torch and python3-torchvision";
  nn::Model model = import_onnx(ref->onnx_path);
  const std::string saved = dir.file("resnet18.h5"), exported = dir.file("again.onnx");
  // Mean 0, std 1 on 0..255: the export's normalization leaves PyTorch's input as it is.
  pipeline::save_imported_model(model, {.pixel_scale = 255.f}, {}, saved);
  ModelBundle bundle = load_model(saved);
  EXPECT_EQ(bundle.class_names.size(), 10u);
  EXPECT_EQ(bundle.preprocessing.at("normalization").at("std")[0], 1.f);
  export_onnx(bundle, exported);
  cv::dnn::Net net = cv::dnn::readNetFromONNX(exported);
  const int dims[] = {2, 3, 224, 224};
  net.setInput(cv::Mat(4, dims, CV_32F, const_cast<float*>(ref->input.data())));
  const cv::Mat out = net.forward();
  nn::Tensor logits({2, 10, 1, 1});
  std::copy(ref->logits.begin(), ref->logits.end(), logits.data());
  const std::vector<float> expected = softmax_rows(logits);
  ASSERT_EQ(out.total(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(out.ptr<float>()[i], expected[i], 1e-4) << i;
  }
}

// The fine-tuning path a user takes: kiln import with the network's preprocessing, then kiln train
// --fine-tune with the first layers frozen. Frozen weights stay bit-identical to the imported
// ones, the output layer gets the data's classes, and the normalization is the imported one.
// SqueezeNet's classifier: a 1x1 conv2d to the classes, then relu, global pooling and flatten.
// Fine-tuning resizes that conv2d; a network whose classes come from anything else is refused
// naming the layer.
TEST(OnnxImport, FineTuningResizesAConvClassifier) {
  testing::TempDir dir;
  OnnxGraph g({1, 1, 8, 8});
  OnnxGraph::ints(g.node("Conv", {"x", g.weight("w", {4, 1, 3, 3})}, "stem"), "pads", {1, 1, 1, 1});
  g.node("Relu", {"stem"}, "act");
  g.node("Conv", {"act", g.weight("cw", {10, 4, 1, 1}), g.weight("cb", {10})}, "classifier");
  g.node("Relu", {"classifier"}, "positive");
  g.node("GlobalAveragePool", {"positive"}, "pool");
  g.node("Flatten", {"pool"}, "flat");
  const std::string onnx = g.save(dir.file("net.onnx"), "flat");
  const std::string imported = dir.file("imported.h5"), tuned = dir.file("tuned.h5");
  ASSERT_EQ(testing::kiln("import " + onnx + " -o " + imported).exit_code, 0);
  testing::write_indexed_dataset(dir.file("data.h5"), 24, 8, 8, 1, 3);
  const auto train = testing::kiln("train " + dir.file("data.h5") + " -o " + tuned +
                                   " --fine-tune " + imported + " --epochs 1 --batch-size 8");
  ASSERT_EQ(train.exit_code, 0) << train.output;
  EXPECT_NE(train.output.find("skipped, shape differs: classifier"), std::string::npos)
      << train.output;
  ModelBundle after = load_model(tuned);
  EXPECT_EQ(after.model.output_shape().per_sample(), 3);

  OnnxGraph t({1, 1, 8, 8});
  OnnxGraph::ints(t.node("Conv", {"x", t.weight("w", {4, 1, 3, 3})}, "stem"), "pads", {1, 1, 1, 1});
  t.node("Tanh", {"stem"}, "squash");
  t.node("Flatten", {"squash"}, "flat");
  ASSERT_EQ(testing::kiln("import " + t.save(dir.file("tanh.onnx"), "flat") + " -o " +
                          dir.file("tanh.h5"))
                .exit_code,
            0);
  const auto refused = testing::kiln("train " + dir.file("data.h5") + " -o " + dir.file("x.h5") +
                                     " --fine-tune " + dir.file("tanh.h5") + " --epochs 1");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("the layer that makes its outputs, 'squash', is a tanh"),
            std::string::npos)
      << refused.output;
}

TEST(OnnxImport, FineTuningKeepsFrozenLayersAndTheImportedNormalization) {
  testing::TempDir dir;
  OnnxGraph g({1, 1, 8, 8});
  auto& conv = g.node("Conv", {"x", g.weight("w", {4, 1, 3, 3}), g.weight("b", {4})}, "stem");
  OnnxGraph::ints(conv, "pads", {1, 1, 1, 1});
  g.node("Relu", {"stem"}, "act");
  g.node("Flatten", {"act"}, "flat");
  auto& fc = g.node("Gemm", {"flat", g.weight("fw", {10, 256}), g.weight("fb", {10})}, "head");
  OnnxGraph::integer(fc, "transB", 1);
  const std::string onnx = g.save(dir.file("net.onnx"), "head");
  const std::string imported = dir.file("imported.h5"), tuned = dir.file("tuned.h5");
  const auto import = testing::kiln("import " + onnx + " -o " + imported +
                                    " --mean 0.5 --std 0.25 --channel-order L");
  ASSERT_EQ(import.exit_code, 0) << import.output;
  ModelBundle base = load_model(imported);
  EXPECT_FLOAT_EQ(base.preprocessing["normalization"]["mean"][0].get<float>(), 127.5f);
  EXPECT_FLOAT_EQ(base.preprocessing["normalization"]["std"][0].get<float>(), 63.75f);

  testing::write_indexed_dataset(dir.file("data.h5"), 24, 8, 8, 1, 3);
  const auto train =
      testing::kiln("train " + dir.file("data.h5") + " -o " + tuned + " --fine-tune " + imported +
                    " --freeze stem --epochs 2 --batch-size 8");
  ASSERT_EQ(train.exit_code, 0) << train.output;
  EXPECT_NE(train.output.find("copied 1 layers (stem); skipped, shape differs: head: (10, 256"),
            std::string::npos)
      << train.output;
  ModelBundle after = load_model(tuned);
  EXPECT_EQ(after.class_names.size(), 3u);
  EXPECT_EQ(after.preprocessing["normalization"], base.preprocessing["normalization"]);
  for (std::size_t p = 0; p < 2; ++p) {
    const auto& a = base.model.layer(0).parameters()[p]->value;
    const auto& b = after.model.layer(0).parameters()[p]->value;
    EXPECT_TRUE(std::equal(a.span().begin(), a.span().end(), b.span().begin())) << p;
  }
  // A second stage from the fine-tuned file with nothing frozen trains the stem too.
  const auto stage2 =
      testing::kiln("train " + dir.file("data.h5") + " -o " + dir.file("stage2.h5") +
                    " --fine-tune " + tuned + " --epochs 1 --batch-size 8");
  ASSERT_EQ(stage2.exit_code, 0) << stage2.output;
  ModelBundle unfrozen = load_model(dir.file("stage2.h5"));
  EXPECT_TRUE(unfrozen.model.trainable(0));
  const auto& w0 = after.model.layer(0).parameters()[0]->value;
  const auto& w1 = unfrozen.model.layer(0).parameters()[0]->value;
  EXPECT_FALSE(std::equal(w0.span().begin(), w0.span().end(), w1.span().begin()));
  const auto wrong = testing::kiln("train " + dir.file("data.h5") + " -o " + tuned +
                                   " --fine-tune " + dir.file("none.h5"));
  EXPECT_NE(wrong.output.find("none.h5: no such model file"), std::string::npos) << wrong.output;
}

}  // namespace
}  // namespace kiln::io

namespace kiln::io {
namespace {

// tf2onnx's image models take NHWC input and transpose it first: kiln reads the input as
// (C, H, W) and drops the Transpose; the same image gives OpenCV's outputs.
TEST(OnnxImport, NhwcInputTransposedFirstIsReadAsChannelsFirst) {
  testing::TempDir dir;
  OnnxGraph g({1, 6, 5, 2});  // N, H, W, C
  using G = OnnxGraph;
  G::ints(g.node("Transpose", {"x"}, "nchw"), "perm", {0, 3, 1, 2});
  G::ints(g.node("Conv", {"nchw", g.weight("w", {3, 2, 3, 3}), g.weight("b", {3})}, "c"),
          "kernel_shape", {3, 3});
  g.node("Relu", {"c"}, "r");
  g.node("Flatten", {"r"}, "flat");
  auto& gemm = g.node("Gemm", {"flat", g.weight("fc", {4, 3 * 4 * 3})}, "fc_out");
  G::integer(gemm, "transB", 1);
  g.node("Softmax", {"fc_out"}, "prob");
  const std::string path = g.save(dir.file("nhwc.onnx"), "prob");
  nn::Model model = import_onnx(path);
  EXPECT_EQ(model.input_shape(), (nn::Shape{1, 2, 6, 5}));
  const int nhwc[] = {1, 6, 5, 2};
  cv::Mat blob(4, nhwc, CV_32F);
  nn::Rng rng({5, 5, 5, 5});
  for (std::size_t i = 0; i < blob.total(); ++i) blob.ptr<float>()[i] = rng.uniform(-1.f, 1.f);
  cv::dnn::Net net = cv::dnn::readNetFromONNX(path);
  net.setInput(blob);
  const cv::Mat expected = net.forward();
  nn::Tensor x({1, 2, 6, 5});
  for (int h = 0; h < 6; ++h)
    for (int w = 0; w < 5; ++w)
      for (int c = 0; c < 2; ++c) x[(c * 6 + h) * 5 + w] = blob.ptr<float>()[(h * 5 + w) * 2 + c];
  const std::vector<float> got = softmax_rows(model.forward(x, {}));
  ASSERT_EQ(got.size(), expected.total());
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected.ptr<float>()[i], 2e-6);
}

TEST(OnnxImport, OpsetsBefore7AreRefusedNamingTheConverter) {
  testing::TempDir dir;
  onnx::ModelProto old;
  old.set_ir_version(3);
  old.add_opset_import()->set_version(6);
  auto* in = old.mutable_graph()->add_input();
  in->set_name("x");
  const std::string path = dir.file("old.onnx");
  {
    std::ofstream out(path, std::ios::binary);
    old.SerializeToOstream(&out);
  }
  try {
    import_onnx(path);
    FAIL() << "an opset 6 model was read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("opset 6 is older than kiln reads (7 and later)"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace kiln::io

namespace kiln::io {
namespace {

// A graph that normalizes its own input (Sub of a per-channel mean, Div of a std, Mul of a
// rescale) before its first layer: the importer folds the three into one per-channel affine and
// the layers that remain compute, on that affine's output, what OpenCV computes on the raw input.
// Without a place to put the affine (no input_affine) the nodes stay refused.
TEST(OnnxImport, LeadingSubDivMulFoldIntoTheInputNormalization) {
  testing::TempDir dir;
  OnnxGraph g({1, 3, 5, 5});
  using G = OnnxGraph;
  g.node("Sub", {"x", g.weight("mean", {1, 3, 1, 1})}, "centred");
  g.node("Div", {"centred", g.weight("std", {1, 3, 1, 1}, 0.5f, 2.f)}, "scaled");
  g.node("Mul", {"scaled", g.weight("k", {1}, 1.5f, 2.f)}, "stretched");
  G::ints(g.node("Conv", {"stretched", g.weight("w", {2, 3, 3, 3})}, "c"), "kernel_shape", {3, 3});
  g.node("Flatten", {"c"}, "flat");
  auto& gemm = g.node("Gemm", {"flat", g.weight("fc", {3, 18})}, "fc_out");
  G::integer(gemm, "transB", 1);
  g.node("Softmax", {"fc_out"}, "prob");
  const std::string path = g.save(dir.file("normalizing.onnx"), "prob");
  EXPECT_THROW(import_onnx(path), Error);
  OnnxInputAffine affine;
  nn::Model model = import_onnx(path, {.input_affine = &affine});
  EXPECT_EQ(model.size(), 3u);  // conv, flatten, dense: no layer for the normalization
  const std::vector<float> mean = g.values("mean"), std = g.values("std");
  const float k = g.values("k")[0];
  ASSERT_EQ(affine.scale.size(), 3u);
  for (int c = 0; c < 3; ++c) {
    EXPECT_FLOAT_EQ(affine.scale[c], k / std[c]);
    EXPECT_FLOAT_EQ(affine.shift[c], -mean[c] / std[c] * k);
  }
  const int dims[] = {1, 3, 5, 5};
  cv::Mat blob(4, dims, CV_32F);
  nn::Rng rng({6, 6, 6, 6});
  for (std::size_t i = 0; i < blob.total(); ++i) blob.ptr<float>()[i] = rng.uniform(0.f, 1.f);
  cv::dnn::Net net = cv::dnn::readNetFromONNX(path);
  net.setInput(blob);
  const cv::Mat expected = net.forward();
  nn::Tensor x({1, 3, 5, 5});
  for (std::int64_t i = 0; i < x.size(); ++i) {
    const auto c = static_cast<std::size_t>(i / 25);
    x[i] = affine.scale[c] * blob.ptr<float>()[i] + affine.shift[c];
  }
  const std::vector<float> got = softmax_rows(model.forward(x, {}));
  ASSERT_EQ(got.size(), expected.total());
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected.ptr<float>()[i], 2e-6);

  // Saved as kiln import saves it: the stored normalization (x − mean) / std on 0..255 pixels is
  // that affine on 0..1 pixels (--pixel-scale 1), so predict feeds the layers what OpenCV's
  // graph computed.
  pipeline::ImportedPreprocessing pre;
  pre.input_scale = affine.scale;
  pre.input_shift = affine.shift;
  pipeline::save_imported_model(model, pre, {}, dir.file("model.h5"));
  const Json n = load_model(dir.file("model.h5")).preprocessing.at("normalization");
  for (int c = 0; c < 3; ++c) {
    const float pixel = 0.3f;  // of 1, i.e. 76.5 of 255
    const float stored =
        (pixel * 255.f - n.at("mean")[c].get<float>()) / n.at("std")[c].get<float>();
    EXPECT_NEAR(stored, affine.scale[c] * pixel + affine.shift[c], 1e-5) << c;
  }
}

}  // namespace
}  // namespace kiln::io
