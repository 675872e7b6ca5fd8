// Keras HDF5 weights onto kiln models. The files are written by h5py in the Keras layout from a
// kiln model (tests/io/relayout_as_keras.py), so the imported model must compute exactly what the
// original did: kernels with non-square windows, two input channels and an HWC flatten make any
// wrong transpose change the outputs, not only the shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>

#include "io/interop/keras_config.hpp"
#include "io/interop/keras_weights.hpp"
#include "io/model_file.hpp"
#include "nn/error.hpp"
#include "nn/model/zoo.hpp"
#include "nn/random.hpp"
#include "nn/training/optimizer.hpp"
#include "tests/support/temp_dir.hpp"

namespace kiln::io {
namespace {

// `model` with random weights and batch-norm statistics, saved as kiln does.
void save_random(nn::Model& model, const std::string& path) {
  model.initialize(5);
  nn::Rng rng({5, 6, 7, 8});
  for (std::size_t i = 0; i < model.size(); ++i) {
    for (nn::Buffer* b : model.layer(i).buffers()) {
      for (float& v : b->value.span()) v = 0.5f + rng.uniform();
    }
    for (nn::Parameter* p : model.layer(i).parameters()) {
      for (float& v : p->value.span()) v += rng.uniform(-0.1f, 0.1f);  // biases not all zero
    }
  }
  const auto optimizer = nn::make_optimizer({{"type", "sgd"}});
  std::vector<std::string> classes;
  for (std::int64_t k = 0; k < model.output_shape().per_sample(); ++k) {
    classes.push_back(std::to_string(k));
  }
  save_model(path, model, *optimizer, {}, Json::object(), classes);
}

// Runs the h5py writer; false when h5py is missing.
bool relayout(const std::string& from, const std::string& to, const std::string& args) {
  const std::string command = "/usr/bin/python3 " + std::string(KILN_TEST_SOURCE_DIR) +
                              "/io/relayout_as_keras.py " + from + " " + to + " " + args;
  const int status = std::system(command.c_str());
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3) return false;
  EXPECT_EQ(status, 0) << command;
  return true;
}

void expect_same_outputs(nn::Model& a, nn::Model& b) {
  nn::Tensor x(a.input_shape().with_n(3));
  nn::Rng rng({1, 1, 1, 1});
  for (float& v : x.span()) v = rng.uniform(-1.f, 1.f);
  const nn::Tensor ya = a.forward(x, {});
  const nn::Tensor& yb = b.forward(x, {});
  ASSERT_EQ(ya.size(), yb.size());
  for (std::int64_t i = 0; i < ya.size(); ++i) ASSERT_NEAR(ya[i], yb[i], 1e-5) << i;
}

// The Keras Sequential config of the model below, as model.to_json() writes it.
Json keras_sequential() {
  return Json::parse(R"({"class_name": "Sequential", "config": {"name": "small", "layers": [
    {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 7, 6, 2], "name": "in"}},
    {"class_name": "Conv2D", "config": {"name": "c1", "filters": 4, "kernel_size": [3, 2],
      "strides": [1, 1], "padding": "same", "activation": "linear", "use_bias": true,
      "data_format": "channels_last", "dilation_rate": [1, 1]}},
    {"class_name": "BatchNormalization", "config": {"name": "bn", "axis": -1, "epsilon": 0.001,
      "momentum": 0.99}},
    {"class_name": "Activation", "config": {"name": "act", "activation": "relu"}},
    {"class_name": "ZeroPadding2D", "config": {"name": "pad", "padding": [[1, 0], [0, 1]]}},
    {"class_name": "MaxPooling2D", "config": {"name": "pool", "pool_size": [2, 2],
      "strides": [2, 2], "padding": "valid"}},
    {"class_name": "Flatten", "config": {"name": "flat"}},
    {"class_name": "Dense", "config": {"name": "fc1", "units": 5, "activation": "relu"}},
    {"class_name": "Dropout", "config": {"name": "drop", "rate": 0.5}},
    {"class_name": "Dense", "config": {"name": "out", "units": 3, "activation": "softmax"}}]}})");
}

TEST(KerasImport, SequentialConfigAndWeightsComputeWhatTheSourceDid) {
  testing::TempDir dir;
  const Json config = kiln_config_from_keras(keras_sequential(), "model.json");
  EXPECT_EQ(config.at("input"), Json::array({2, 7, 6}));
  nn::Model source = nn::Model::from_config(config);
  // ZeroPadding2D folded into the pool: [top 1, left 0, bottom 0, right 1]; softmax dropped.
  EXPECT_EQ(config.at("layers")[3].at("padding"), Json::array({1, 0, 0, 1}));
  EXPECT_EQ(source.layer_name(source.size() - 1), "out");
  save_random(source, dir.file("kiln.h5"));
  // pool output (4, 4, 3): (7 + 1) / 2, (6 + 1) / 2
  if (!relayout(dir.file("kiln.h5"), dir.file("keras.h5"), "c1 bn fc1 out --flatten-map fc1:4,4,3"))
    GTEST_SKIP() << "needs python3-h5py";
  nn::Model imported = nn::Model::from_config(config);
  load_keras_weights(dir.file("keras.h5"), imported);
  expect_same_outputs(source, imported);
}

// A functional model (Keras 2's "Functional"): inbound nodes, a residual Add, a Concatenate.
TEST(KerasImport, FunctionalGraphsKeepTheirWiring) {
  const Json keras = Json::parse(R"({"class_name": "Functional", "config": {"name": "res",
    "layers": [
      {"class_name": "InputLayer", "name": "x", "inbound_nodes": [],
       "config": {"batch_input_shape": [null, 6, 5, 3], "name": "x"}},
      {"class_name": "Conv2D", "name": "a", "inbound_nodes": [[["x", 0, 0, {}]]],
       "config": {"name": "a", "filters": 4, "kernel_size": [3, 3], "padding": "same",
                  "activation": "relu"}},
      {"class_name": "Conv2D", "name": "b", "inbound_nodes": [[["a", 0, 0, {}]]],
       "config": {"name": "b", "filters": 4, "kernel_size": [1, 2], "padding": "same",
                  "use_bias": false}},
      {"class_name": "Add", "name": "sum", "inbound_nodes": [[["a", 0, 0, {}], ["b", 0, 0, {}]]],
       "config": {"name": "sum"}},
      {"class_name": "Concatenate", "name": "cat",
       "inbound_nodes": [[["sum", 0, 0, {}], ["x", 0, 0, {}]]],
       "config": {"name": "cat", "axis": -1}},
      {"class_name": "GlobalAveragePooling2D", "name": "gap",
       "inbound_nodes": [[["cat", 0, 0, {}]]], "config": {"name": "gap"}},
      {"class_name": "Dense", "name": "out", "inbound_nodes": [[["gap", 0, 0, {}]]],
       "config": {"name": "out", "units": 3, "activation": "softmax"}}],
    "input_layers": [["x", 0, 0]], "output_layers": [["out", 0, 0]]}})");
  const Json config = kiln_config_from_keras(keras, "res.json");
  // The Add reads a's relu (the Keras layer a's output), not the convolution before it.
  EXPECT_EQ(config.at("layers")[3].at("inputs"), Json::array({"a_relu", "b"}));
  EXPECT_EQ(config.at("layers")[4].at("inputs"), Json::array({"sum", "input"}));
  testing::TempDir dir;
  nn::Model source = nn::Model::from_config(config);
  save_random(source, dir.file("kiln.h5"));
  if (!relayout(dir.file("kiln.h5"), dir.file("keras.h5"), "a b out")) {
    GTEST_SKIP() << "needs python3-h5py";
  }
  nn::Model imported = nn::Model::from_config(config);
  load_keras_weights(dir.file("keras.h5"), imported);
  expect_same_outputs(source, imported);
}

TEST(KerasImport, ZooModelTakesWeightsInLayerOrder) {
  testing::TempDir dir;
  const Json config = nn::builtin_model("mnist_cnn", {1, 1, 28, 28}, 10, Json::object());
  nn::Model source = nn::Model::from_config(config);
  save_random(source, dir.file("kiln.h5"));
  // Keras' mnist_cnn.py names; the first dense reads the flattened (12, 12, 64) map.
  if (!relayout(dir.file("kiln.h5"), dir.file("keras.h5"),
                "conv2d_1 conv2d_2 dense_1 dense_2 --flatten-map dense_1:64,12,12"))
    GTEST_SKIP() << "needs python3-h5py";
  EXPECT_EQ(keras_output_units(dir.file("keras.h5")), 10);
  nn::Model imported = nn::Model::from_config(config);
  load_keras_weights(dir.file("keras.h5"), imported);
  expect_same_outputs(source, imported);

  // The same file onto another architecture: one line naming the layers and both shapes.
  nn::Model other =
      nn::Model::from_config(nn::builtin_model("lenet5", {1, 1, 28, 28}, 10, Json::object()));
  try {
    load_keras_weights(dir.file("keras.h5"), other);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Keras layer 'conv2d_1' onto kiln layer 'conv2d_1': "
                                         "kernel (3, 3, 1, 32) in the file (KH, KW, C, F), (6, 1, "
                                         "5, 5) here"),
              std::string::npos)
        << e.what();
  }
}

TEST(KerasImport, UnsupportedLayersAndFilesAreNamed) {
  Json keras = keras_sequential();
  keras["config"]["layers"][2] = {{"class_name", "LayerNormalization"},
                                  {"config", {{"name", "ln"}}}};
  try {
    kiln_config_from_keras(keras, "model.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.json: Keras layer 'ln': class LayerNormalization "
                                         "is not supported; supported: InputLayer"),
              std::string::npos)
        << e.what();
  }
  testing::TempDir dir;
  nn::Model model = nn::Model::from_config(kiln_config_from_keras(keras_sequential(), "m"));
  save_random(model, dir.file("kiln.h5"));  // a kiln model file is no Keras weight file
  try {
    load_keras_weights(dir.file("kiln.h5"), model);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a Keras weight file (no layer_names attribute)"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace kiln::io

namespace kiln::io {
namespace {

// Keras 3's model.to_json() of a dense-only network on flat (None, 12) inputs: modules, registered
// names, dtype policies as objects, build configs.
constexpr const char* kKeras3Sequential = R"({"module": "keras", "class_name": "Sequential",
  "config": {"name": "sequential", "trainable": true,
    "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}},
    "layers": [
      {"module": "keras.layers", "class_name": "InputLayer", "registered_name": null,
       "config": {"batch_shape": [null, 12], "dtype": "float32", "sparse": false,
                  "name": "input_layer"}},
      {"module": "keras.layers", "class_name": "Dense", "registered_name": null,
       "config": {"name": "dense", "trainable": true,
                  "dtype": {"module": "keras", "class_name": "DTypePolicy",
                            "config": {"name": "float32"}},
                  "units": 8, "activation": "relu", "use_bias": true},
       "build_config": {"input_shape": [null, 12]}},
      {"module": "keras.layers", "class_name": "Dense", "registered_name": null,
       "config": {"name": "dense_1", "units": 3, "activation": "softmax", "use_bias": true},
       "build_config": {"input_shape": [null, 8]}}],
    "build_input_shape": [null, 12]},
  "registered_name": null, "build_config": {"input_shape": [null, 12]}})";

// A whole model.save("m.h5") file as Keras 2 and 3 write it (tests/io/relayout_as_keras.py
// --keras): variable-length ASCII strings (model_config, keras_version, backend), weights under
// /model_weights, Keras 3 nesting them by path. A flat input needs no --input.
TEST(KerasImport, RealModelSaveFilesOfKeras2And3ImportWithoutFlags) {
  testing::TempDir dir;
  const Json keras = Json::parse(kKeras3Sequential);
  const Json config = kiln_config_from_keras(keras, "m.json");
  EXPECT_EQ(config.at("input"), Json::array({1, 1, 12}));
  nn::Model source = nn::Model::from_config(config);
  save_random(source, dir.file("kiln.h5"));
  { std::ofstream(dir.file("config.json")) << keras.dump(); }
  for (const char* version : {"2", "3"}) {
    const std::string file = dir.file(std::string("keras") + version + ".h5");
    if (!relayout(
            dir.file("kiln.h5"), file,
            "dense dense_1 --model-config " + dir.file("config.json") + " --keras " + version)) {
      GTEST_SKIP() << "needs python3-h5py";
    }
    const Json stored = keras_model_config(file);  // variable-length ASCII, read as written
    ASSERT_EQ(stored, keras) << version;
    nn::Model imported = nn::Model::from_config(kiln_config_from_keras(stored, file));
    load_keras_weights(file, imported);
    expect_same_outputs(source, imported);
  }
}

// Keras 3's functional inbound nodes: {"args": [keras tensors with their keras_history]}, a
// list of tensors for a merge.
TEST(KerasImport, Keras3FunctionalInboundNodesKeepTheirWiring) {
  const Json keras = Json::parse(R"({"class_name": "Functional", "config": {"name": "f",
    "layers": [
      {"class_name": "InputLayer", "name": "x", "inbound_nodes": [],
       "config": {"batch_shape": [null, 6, 5, 3], "name": "x"}},
      {"class_name": "Conv2D", "name": "a", "config": {"name": "a", "filters": 3,
         "kernel_size": [3, 3], "padding": "same", "activation": "relu"},
       "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {
         "shape": [null, 6, 5, 3], "dtype": "float32", "keras_history": ["x", 0, 0]}}],
         "kwargs": {}}]},
      {"class_name": "Add", "name": "sum", "config": {"name": "sum"},
       "inbound_nodes": [{"args": [[
         {"class_name": "__keras_tensor__", "config": {"keras_history": ["a", 0, 0]}},
         {"class_name": "__keras_tensor__", "config": {"keras_history": ["x", 0, 0]}}]]}]},
      {"class_name": "GlobalAveragePooling2D", "name": "gap", "config": {"name": "gap"},
       "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__",
         "config": {"keras_history": ["sum", 0, 0]}}], "kwargs": {}}]},
      {"class_name": "Dense", "name": "out", "config": {"name": "out", "units": 2},
       "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__",
         "config": {"keras_history": ["gap", 0, 0]}}], "kwargs": {}}]}],
    "input_layers": [["x", 0, 0]], "output_layers": [["out", 0, 0]]}})");
  const Json config = kiln_config_from_keras(keras, "f.json");
  EXPECT_EQ(config.at("layers")[2].at("inputs"), Json::array({"a_relu", "input"}));
  EXPECT_NO_THROW(nn::Model::from_config(config));
}

std::vector<float> read_float_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  std::vector<float> values(static_cast<std::size_t>(in.tellg()) / sizeof(float));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(values.data()),
          static_cast<std::streamsize>(values.size() * sizeof(float)));
  return values;
}

// DepthwiseConv2D (depth_multiplier 2), ReLU(6), SeparableConv2D with swish, UpSampling2D
// (bilinear): a Keras 3 file
// written by h5py, against a NumPy evaluation written from Keras' definitions.
TEST(KerasImport, DepthwiseAndSeparableConvolutionsMatchNumPy) {
  testing::TempDir dir;
  const std::string script = std::string(KILN_TEST_SOURCE_DIR) + "/io/write_keras_mobile.py";
  const int status =
      std::system(("/usr/bin/python3 " + script + " " + dir.path().string()).c_str());
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3) GTEST_SKIP() << "needs python3-h5py";
  ASSERT_EQ(status, 0);
  const std::string file = dir.file("mobile.h5");
  nn::Model model = nn::Model::from_config(kiln_config_from_keras(keras_model_config(file), file));
  load_keras_weights(file, model);
  std::vector<std::string> types;
  for (std::size_t i = 0; i < model.size(); ++i) types.emplace_back(model.layer(i).type());
  EXPECT_EQ(types, (std::vector<std::string>{"conv2d", "relu6", "conv2d", "conv2d", "silu",
                                             "upsample", "conv2d", "global_avg_pool2d", "dense"}));
  nn::Tensor x({2, 2, 5, 5});
  const std::vector<float> input = read_float_file(dir.file("input.bin"));
  std::copy(input.begin(), input.end(), x.data());
  const nn::Tensor& y = model.forward(x, {});
  const std::vector<float> expected = read_float_file(dir.file("expected.bin"));
  ASSERT_EQ(static_cast<std::size_t>(y.size()), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i)
    EXPECT_NEAR(y[static_cast<std::int64_t>(i)], expected[i], 1e-5) << i;
}

}  // namespace
}  // namespace kiln::io
