// kiln export against a real runtime: OpenCV's dnn module loads each export and must give the
// probabilities kiln computes (normalization, forward, softmax) to about 1e-5.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <opencv2/dnn.hpp>
#include <string>
#include <vector>

#include "io/dataset_reader.hpp"
#include "io/interop/onnx_export.hpp"
#include "io/interop/onnx_import.hpp"
#include "io/model_file.hpp"
#include "nn/error.hpp"
#include "nn/loss.hpp"
#include "nn/model/zoo.hpp"
#include "nn/random.hpp"
#include "nn/training/optimizer.hpp"
#include "tests/support/temp_dir.hpp"

namespace kiln::io {
namespace {

// A model bundle as kiln train would save it: initialized weights, batch-norm statistics that are
// not the defaults, and a channel normalization.
ModelBundle bundle_of(const Json& config, std::uint64_t seed) {
  ModelBundle b{nn::Model::from_config(config), {{"type", "sgd"}}, {}, {}, {}, {}};
  b.model.initialize(seed);
  nn::Rng rng({seed, 9, 9, 9});
  for (std::size_t i = 0; i < b.model.size(); ++i) {
    for (nn::Buffer* buffer : b.model.layer(i).buffers()) {
      for (float& v : buffer->value.span()) v = 0.2f + rng.uniform();  // also a valid variance
    }
    for (nn::Parameter* p : b.model.layer(i).parameters()) {
      if (p->name == "gamma" || p->name == "beta" || p->name == "bias") {
        for (float& v : p->value.span()) v = rng.uniform(-0.5f, 0.5f) + (p->name == "gamma");
      }
    }
  }
  const nn::Shape in = b.model.input_shape();
  std::vector<float> mean, std;
  for (std::int64_t c = 0; c < in.c; ++c) {
    mean.push_back(100.f + 10.f * static_cast<float>(c));
    std.push_back(50.f + 5.f * static_cast<float>(c));
  }
  b.preprocessing = {
      {"normalization", {{"channel_order", in.c == 3 ? "RGB" : "L"}, {"mean", mean}, {"std", std}}},
      {"eval_stages", Json::array()},
      {"input", {in.c, in.h, in.w}}};
  const auto classes = b.model.output_shape().per_sample();
  for (std::int64_t k = 0; k < classes; ++k) b.class_names.push_back("class" + std::to_string(k));
  return b;
}

// kiln's probabilities for float pixels (N, C, H, W) on the 0..255 scale.
std::vector<float> kiln_probabilities(ModelBundle& b, const nn::Tensor& pixels) {
  const Json& n = b.preprocessing.at("normalization");
  const auto mean = n.at("mean").get<std::vector<float>>();
  const auto std = n.at("std").get<std::vector<float>>();
  const bool per_pixel = n.value("mode", "channel") == "mean_image";
  nn::Tensor x(pixels.shape());
  const nn::Shape s = pixels.shape();
  for (std::int64_t i = 0; i < x.size(); ++i) {
    const auto c = static_cast<std::size_t>((i / (s.h * s.w)) % s.c);
    const std::int64_t p = i % (s.h * s.w);  // pixel position; the mean image is HWC
    const float m =
        per_pixel ? b.arrays.at("mean_image")[static_cast<std::size_t>(p * s.c) + c] : mean[c];
    x[i] = (pixels[i] - m) / std[c];
  }
  const nn::Tensor& logits = b.model.forward(x, {});
  // What the task's outputs mean: softmax, a sigmoid per class, or the values.
  std::vector<float> scores(logits.span().begin(), logits.span().end());
  nn::output_to_scores(nn::task_from_name(b.preprocessing.value("task", "classification")),
                       scores.data(), s.n, logits.shape().per_sample());
  return scores;
}

struct Variant {
  bool mean_image = false;             // normalization mode mean_image instead of channel
  bool include_preprocessing = false;  // uint8 NHWC input
  std::int64_t batch = 3;
};

// The export of `b` run by OpenCV on `pixels` (N, C, H, W, 0..255) against kiln's probabilities.
void expect_export_agrees(ModelBundle& b, const nn::Tensor& pixels, Variant v = {}) {
  const nn::Shape in = b.model.input_shape();
  testing::TempDir dir;
  const std::string path = dir.file("model.onnx");
  export_onnx(b, path, {.include_preprocessing = v.include_preprocessing});
  const std::vector<float> expected = kiln_probabilities(b, pixels);

  cv::dnn::Net net = cv::dnn::readNetFromONNX(path);
  const int n = static_cast<int>(pixels.shape().n);
  const int dims[] = {n, static_cast<int>(in.c), static_cast<int>(in.h), static_cast<int>(in.w)};
  cv::Mat blob(4, dims, CV_32F, const_cast<float*>(pixels.data()));
  if (v.include_preprocessing) {  // the same pixels as uint8 (N, H, W, C)
    const int nhwc[] = {n, static_cast<int>(in.h), static_cast<int>(in.w), static_cast<int>(in.c)};
    cv::Mat bytes(4, nhwc, CV_8U);
    const std::int64_t area = in.h * in.w;
    for (std::int64_t i = 0; i < pixels.size(); ++i) {
      const std::int64_t k = i / (in.c * area), c = (i / area) % in.c, p = i % area;
      bytes.data[(k * area + p) * in.c + c] = static_cast<std::uint8_t>(pixels[i]);
    }
    blob = bytes;
  }
  net.setInput(blob);
  const cv::Mat out = net.forward();
  ASSERT_EQ(out.total(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    ASSERT_NEAR(out.ptr<float>()[i], expected[i], 2e-5) << "output " << i;
  }
}

void expect_opencv_agrees(const Json& config, const std::string& what, Variant v = {}) {
  SCOPED_TRACE(what);
  ModelBundle b = bundle_of(config, 3);
  const nn::Shape in = b.model.input_shape();
  if (v.mean_image) {
    b.preprocessing["normalization"]["mode"] = "mean_image";
    std::vector<float> image(static_cast<std::size_t>(in.per_sample()));
    for (std::size_t i = 0; i < image.size(); ++i) image[i] = 60.f + static_cast<float>(i % 97);
    b.arrays["mean_image"] = image;
  }
  nn::Tensor pixels({v.batch, in.c, in.h, in.w});
  nn::Rng rng({1, 2, 3, 4});
  for (float& p : pixels.span()) p = std::floor(rng.uniform(0.f, 256.f));
  expect_export_agrees(b, pixels, v);
}

Json zoo(const std::string& name, nn::Shape input, Json options = Json::object()) {
  return nn::builtin_model(name, input, 10, options);
}

TEST(OnnxExport, EveryZooModelRunsInOpenCvWithKilnsProbabilities) {
  expect_opencv_agrees(zoo("mlp", {1, 1, 28, 28}), "mlp");
  expect_opencv_agrees(zoo("mnist_cnn", {1, 1, 28, 28}), "mnist_cnn");
  expect_opencv_agrees(zoo("cifar_cnn", {1, 3, 32, 32}), "cifar_cnn");
  expect_opencv_agrees(zoo("lenet5", {1, 1, 28, 28}), "lenet5");
  expect_opencv_agrees(zoo("alexnet", {1, 3, 64, 64}, {{"width", 0.125}}), "alexnet");
  expect_opencv_agrees(zoo("vgg16", {1, 3, 32, 32}, {{"width", 0.125}}), "vgg16");
  expect_opencv_agrees(zoo("resnet20", {1, 3, 32, 32}), "resnet20");
  expect_opencv_agrees(zoo("resnet18", {1, 3, 64, 64}, {{"width", 0.25}}), "resnet18");
}

// A model kiln trained on real data (the main job's CNN, batch norm included, briefly on 1,024
// Fashion-MNIST images), run by OpenCV on 64 test images.
TEST(OnnxExport, TrainedFashionMnistModelRunsInOpenCv) {
  const std::string idx = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
  if (!std::filesystem::exists(idx)) GTEST_SKIP() << "needs Debian's dataset-fashion-mnist";
  testing::TempDir dir;
  const std::string kiln = KILN_BINARY, data = dir.file("test.h5"), model = dir.file("m.h5");
  const std::string labels = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
  ASSERT_EQ(std::system((kiln + " preprocess " + idx + " --labels " + labels + " -o " + data +
                         " > /dev/null")
                            .c_str()),
            0);
  ASSERT_EQ(std::system((kiln + " train " + data + " --config " + KILN_TEST_SOURCE_DIR +
                         "/../examples/fashion-mnist.json --limit 1024 --epochs 1 -o " + model +
                         " > /dev/null")
                            .c_str()),
            0);
  ModelBundle b = load_model(model);
  const DatasetReader reader(data);
  std::vector<std::uint8_t> bytes(64 * 28 * 28);
  reader.read_images(0, 64, bytes);
  nn::Tensor pixels({64, 1, 28, 28});
  for (std::int64_t i = 0; i < pixels.size(); ++i) pixels[i] = bytes[static_cast<std::size_t>(i)];
  expect_export_agrees(b, pixels);
}

// Branches and joins beyond the ResNets': concat, a three-way add, identity, the model's input
// read twice.
TEST(OnnxExport, GraphJoinsRunInOpenCv) {
  const Json layers = Json::parse(R"([
    {"type": "conv2d", "name": "a", "filters": 4, "padding": "same"},
    {"type": "conv2d", "name": "b", "filters": 4, "kernel_size": 1, "inputs": "input"},
    {"type": "identity", "name": "c", "inputs": "b"},
    {"type": "add", "name": "sum", "inputs": ["a", "b", "c"]},
    {"type": "relu"},
    {"type": "concat", "inputs": ["relu_1", "a"]},
    {"type": "flatten"}, {"type": "dense", "units": 5}])");
  expect_opencv_agrees({{"input", {3, 8, 8}}, {"layers", layers}}, "graph joins");
}

TEST(OnnxExport, EveryOtherLayerTypeAndBothConvAlgorithms) {
  const Json layers = Json::parse(R"([
    {"type": "conv2d", "filters": 16, "padding": "same", "algorithm": "gemm"},
    {"type": "batch_norm"}, {"type": "leaky_relu", "alpha": 0.2},
    {"type": "conv2d", "filters": 16, "kernel_size": 3, "padding": "same", "algorithm": "winograd"},
    {"type": "lrn", "size": 3}, {"type": "sigmoid"},
    {"type": "avg_pool2d", "pool_size": 3, "strides": 2, "padding": "same"},
    {"type": "conv2d", "filters": 8, "kernel_size": [3, 1], "strides": [2, 1]}, {"type": "tanh"},
    {"type": "max_pool2d", "pool_size": 2, "padding": "same"}, {"type": "dropout"},
    {"type": "global_avg_pool2d"}, {"type": "flatten"},
    {"type": "dense", "units": 12}, {"type": "batch_norm"}, {"type": "relu"},
    {"type": "dense", "units": 5, "use_bias": false}])");
  expect_opencv_agrees({{"input", {3, 13, 11}}, {"layers", layers}}, "layer mix");
}

// The layers of MobileNet v3 / EfficientNet / RegNet-style blocks: grouped, depthwise and dilated
// convolutions, a squeeze-and-excitation gate, the modern activations, a zero padding the average
// pool counts, stochastic depth (the identity here).
const char* kModernLayers = R"([
    {"type": "conv2d", "filters": 8, "padding": "same", "groups": 1},
    {"type": "hard_swish", "name": "stem"},
    {"type": "conv2d", "filters": 8, "groups": 8, "strides": 2, "padding": 1},
    {"type": "silu", "name": "dw"},
    {"type": "global_avg_pool2d"},
    {"type": "conv2d", "filters": 8, "kernel_size": 1},
    {"type": "hard_sigmoid", "name": "gate"},
    {"type": "multiply", "inputs": ["dw", "gate"]},
    {"type": "conv2d", "filters": 8, "groups": 2, "dilation": 2, "padding": "same"},
    {"type": "stochastic_depth", "rate": 0.3},
    {"type": "upsample", "size": [2, 1]},
    {"type": "upsample", "size": [1, 2], "interpolation": "bilinear"},
    {"type": "channel_shuffle", "groups": 4},
    {"type": "channel_slice", "begin": 2, "end": 7},
    {"type": "gelu"},
    {"type": "zero_pad2d", "padding": [1, 0, 0, 1]},
    {"type": "avg_pool2d", "pool_size": 2},
    {"type": "flatten"}, {"type": "dense", "units": 5}])";

TEST(OnnxExport, ModernLayersRunInOpenCvAndImportBack) {
  const Json config = {{"input", {3, 12, 12}}, {"layers", Json::parse(kModernLayers)}};
  // One image: OpenCV 4.6 broadcasts a Mul of two computed values right only for a batch of one
  // (the gate second, it takes the gate's shape; first, it fails on larger batches).
  expect_opencv_agrees(config, "modern layers", {.batch = 1});
  // relu6 and layer_norm too, read back by kiln's importer. OpenCV 4.6 reads Clip only in its
  // pre-opset-11 form (bounds as attributes), not opset 13's (bounds as inputs, as PyTorch writes
  // them), and fails on the broadcasting Sub of LayerNorm's nodes.
  Json layers = Json::parse(kModernLayers);
  layers[1] = {{"type", "relu6"}, {"name", "stem"}};
  layers.insert(layers.end() - 5, Json{{"type", "layer_norm"}, {"epsilon", 1e-6}});
  ModelBundle b = bundle_of({{"input", {3, 12, 12}}, {"layers", layers}}, 4);
  testing::TempDir dir;
  export_onnx(b, dir.file("m.onnx"));
  nn::Model back = import_onnx(dir.file("m.onnx"));
  nn::Tensor pixels({2, 3, 12, 12});
  nn::Rng rng({5, 6, 7, 8});
  for (float& p : pixels.span()) p = rng.uniform(0.f, 255.f);
  const std::vector<float> expected = kiln_probabilities(b, pixels);
  // The imported graph starts with the normalization (a BatchNormalization): its own layer.
  std::vector<std::string> types;
  for (std::size_t i = 0; i < back.size(); ++i) types.emplace_back(back.layer(i).type());
  EXPECT_EQ(std::count(types.begin(), types.end(), "gelu"), 1) << "GELU's five nodes, one layer";
  EXPECT_EQ(std::count(types.begin(), types.end(), "relu6"), 1);
  EXPECT_EQ(std::count(types.begin(), types.end(), "silu"), 1);
  EXPECT_EQ(std::count(types.begin(), types.end(), "multiply"), 1);
  EXPECT_EQ(std::count(types.begin(), types.end(), "channel_shuffle"), 1) << "three nodes, one";
  EXPECT_EQ(std::count(types.begin(), types.end(), "channel_slice"), 1);
  EXPECT_EQ(std::count(types.begin(), types.end(), "layer_norm"), 1) << "nine nodes, one layer";
  EXPECT_EQ(std::count(types.begin(), types.end(), "upsample"), 2);
  const nn::Tensor& logits = back.forward(pixels, {});
  std::vector<float> got(logits.span().begin(), logits.span().end());
  nn::output_to_scores(nn::Task::kClassification, got.data(), 2, 5);
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-5) << i;
}

TEST(OnnxExport, MeanImageNormalizationAndUint8PixelInput) {
  const Json cnn = zoo("cifar_cnn", {1, 3, 32, 32});
  expect_opencv_agrees(cnn, "mean image", {.mean_image = true});
  expect_opencv_agrees(cnn, "uint8 NHWC", {.include_preprocessing = true});
}

TEST(OnnxExport, MetadataCarriesClassesAndInputAndUnsupportedModesAreNamed) {
  ModelBundle b = bundle_of(zoo("mlp", {1, 1, 28, 28}), 1);
  testing::TempDir dir;
  export_onnx(b, dir.file("pre.onnx"), {.include_preprocessing = true});
  std::ifstream in(dir.file("pre.onnx"), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(bytes.find("class_names"), std::string::npos);
  EXPECT_NE(bytes.find("[\"class0\",\"class1\""), std::string::npos);
  EXPECT_NE(bytes.find("1,28,28"), std::string::npos);
  b.preprocessing["normalization"]["mode"] = "zca";
  try {
    export_onnx(b, dir.file("zca.onnx"));
    FAIL() << "zca exported";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'zca'"), std::string::npos) << e.what();
  }
}

// A multi-label model exports with a Sigmoid on each class, a regression model with its values;
// OpenCV gives kiln's figures, the metadata names the task, and kiln import reads the network
// back with its outputs as logits again (the Sigmoid dropped) and the task recorded.
TEST(OnnxExport, MultiLabelAndRegressionOutputsRunInOpenCvAndImportBack) {
  const Json config = nn::builtin_model("mnist_cnn", {1, 1, 28, 28}, 4, Json::object());
  nn::Tensor pixels({3, 1, 28, 28});
  nn::Rng rng({4, 4, 4, 4});
  for (float& v : pixels.span()) v = std::floor(rng.uniform(0.f, 256.f));
  for (const char* task : {"multi_label", "regression"}) {
    ModelBundle b = bundle_of(config, 11);
    b.preprocessing["task"] = task;
    expect_export_agrees(b, pixels);
    testing::TempDir dir;
    const std::string path = dir.file("model.onnx");
    export_onnx(b, path, {});
    EXPECT_EQ(nn::task_name(onnx_task(path)), task);
    nn::Model back = import_onnx(path);
    EXPECT_EQ(back.output_shape().per_sample(), 4) << task;
    EXPECT_EQ(back.config().at("layers").back().at("type"), "dense")
        << task << ": the final Sigmoid is dropped, the last dense layer gives the logits";
  }
}

}  // namespace
}  // namespace kiln::io
