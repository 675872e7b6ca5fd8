// Graph models: wiring, errors, gradients through branches and joins, and the ResNets built on them.
#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <algorithm>

#include "nn/error.hpp"
#include "nn/layers/registry.hpp"
#include "nn/model/model.hpp"
#include "nn/model/zoo.hpp"
#include "tests/support/gradient_check.hpp"

namespace kiln::nn {
namespace {

Json conv(const char* name, std::int64_t filters, const Json& inputs = nullptr) {
  Json layer = {{"type", "conv2d"}, {"name", name}, {"filters", filters}, {"padding", "same"}};
  if (!inputs.is_null()) layer["inputs"] = inputs;
  return layer;
}

// Every kind of wiring in one small model: a conv read by a ReLU and by an add (so the ReLU must
// not be absorbed), a branch from the model's input, an add of one tensor with itself, a concat.
Json branching_config() {
  return {{"input", {2, 5, 4}},
          {"layers",
           {conv("c1", 3),
            {{"type", "relu"}, {"name", "r1"}},
            conv("c2", 3),
            {{"type", "add"}, {"name", "sum"}, {"inputs", {"c2", "c1"}}},
            conv("side", 2, "input"),
            {{"type", "add"}, {"name", "twice"}, {"inputs", {"side", "side"}}},
            {{"type", "concat"}, {"name", "both"}, {"inputs", {"sum", "twice"}}},
            {{"type", "relu"}},
            {{"type", "flatten"}},
            {{"type", "dense"}, {"units", 3}}}}};
}

Model initialized(const Json& config, std::uint64_t seed = 3) {
  Model model = Model::from_config(config);
  model.initialize(seed);
  // Non-zero biases, so every path carries signal.
  for (Parameter* p : model.parameters())
    testing::fill_uniform(p->value, p->value.size(), -.5f, .5f);
  return model;
}

std::string error_of(const Json& config) {
  try {
    Model::from_config(config);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Graph, PlainListIsAChainNamedAsKerasDoes) {
  const Json config = builtin_model("mnist_cnn", {1, 1, 28, 28}, 10);
  Model model = Model::from_config(config);
  EXPECT_TRUE(model.graph().is_chain());
  EXPECT_EQ(model.layer_name(0), "conv2d_1");
  EXPECT_EQ(model.layer_name(2), "conv2d_2");
  EXPECT_EQ(model.layer_name(10), "dense_2");
  EXPECT_EQ(model.config(), Model::from_config(model.config()).config());
  const Json written = model.config();  // kept: a range-for over a temporary's member dangles
  for (const Json& layer : written.at("layers")) {
    EXPECT_FALSE(layer.contains("name") || layer.contains("inputs")) << layer.dump();
  }
}

TEST(Graph, ConfigRoundTripsNamesInputsAndFrozenLayers) {
  Json config = branching_config();
  config["layers"][0]["trainable"] = false;
  const Model model = Model::from_config(config);
  const Json again = model.config();
  EXPECT_EQ(again["layers"][3]["inputs"], Json::array({"c2", "c1"}));
  EXPECT_EQ(again["layers"][4]["inputs"], "input");
  EXPECT_EQ(again["layers"][0]["trainable"], false);
  EXPECT_EQ(Model::from_config(again).config(), again);
  EXPECT_FALSE(model.trainable(0));
  EXPECT_EQ(model.output_shape(), (Shape{1, 3, 1, 1}));
  EXPECT_EQ(model.layer_output_shape(6), (Shape{1, 5, 5, 4}));  // concat: 3 + 2 channels
}

// The forward pass against the same layers run apart, by hand, with the same weights.
TEST(Graph, ForwardEqualsTheLayersComposedByHand) {
  Model model = initialized(branching_config());
  std::vector<std::unique_ptr<Layer>> layers;
  const Json config = branching_config();
  for (const Json& entry : config["layers"]) {
    Json options = entry;
    for (const char* key : {"type", "name", "inputs"}) options.erase(key);
    layers.push_back(make_layer(entry["type"], options));
  }
  const std::pair<int, Shape> inputs[] = {{0, {1, 2, 5, 4}},
                                          {2, {1, 3, 5, 4}},
                                          {4, {1, 2, 5, 4}},
                                          {8, {1, 5, 5, 4}},
                                          {9, {1, 100, 1, 1}}};
  for (const auto& [i, shape] : inputs) {
    layers[i]->build(shape);
    const auto mine = layers[i]->parameters(), theirs = model.layer(i).parameters();
    for (std::size_t p = 0; p < mine.size(); ++p) mine[p]->value = theirs[p]->value;
  }
  Tensor x({3, 2, 5, 4});
  testing::fill_uniform(x, 7, -1, 1);
  Tensor c1, r1, c2, side, flat, out;
  layers[0]->forward(x, c1, {});
  layers[1]->forward(c1, r1, {});
  layers[2]->forward(r1, c2, {});
  layers[4]->forward(x, side, {});
  Tensor both({3, 5, 5, 4});
  for (std::int64_t n = 0; n < 3; ++n) {
    for (std::int64_t i = 0; i < 60; ++i) {
      both[n * 100 + i] = c2[n * 60 + i] + c1[n * 60 + i];  // unrectified c1
      if (i < 40) both[n * 100 + 60 + i] = side[n * 40 + i] + side[n * 40 + i];
    }
  }
  for (float& v : both.span()) v = std::max(v, 0.f);
  layers[8]->forward(both, flat, {});
  layers[9]->forward(flat, out, {});
  const Tensor& y = model.forward(x, {});
  ASSERT_EQ(y.shape(), out.shape());
  for (std::int64_t i = 0; i < y.size(); ++i) EXPECT_FLOAT_EQ(y[i], out[i]) << i;
}

TEST(Graph, BranchesAndJoinsMatchFiniteDifferences) {
  Model model = initialized(branching_config());
  Tensor x({2, 2, 5, 4});
  testing::fill_uniform(x, 4, -1, 1);
  Tensor dy({2, 3, 1, 1});
  testing::fill_uniform(dy, 6, -1, 1);
  testing::expect_model_gradients_match(model, x, dy, 1e-3f);
}

// The residual graph with batch norm, trained a few steps' worth of backward passes: every
// gradient is the same bit for bit on 1 and 2 threads.
TEST(Graph, GradientsAreBitIdenticalForAnyThreadCount) {
  const Json config = builtin_model("resnet20", {1, 3, 12, 12}, 4, {{"width", 0.5}});
  auto gradients = [&](int threads) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
    Model model = Model::from_config(config);
    model.initialize(5);
    Tensor x({6, 3, 12, 12}), dy({6, 4, 1, 1});
    testing::fill_uniform(x, 1, -1, 1);
    testing::fill_uniform(dy, 2, -1, 1);
    const std::uint64_t rows[] = {0, 1, 2, 3, 4, 5};
    model.zero_grad();
    model.forward(x, {Mode::kTrain, 1, 0, rows});
    model.backward(x, dy);
    std::vector<float> all;
    for (Parameter* p : model.parameters())
      all.insert(all.end(), p->grad.span().begin(), p->grad.span().end());
    return all;
  };
  const std::vector<float> one = gradients(1);
  EXPECT_EQ(one, gradients(2));
  EXPECT_GT(std::count_if(one.begin(), one.end(), [](float g) { return g != 0.f; }), 1000);
}

// A frozen layer gets no gradient step (it is not among the parameters) and its batch norm runs
// on running statistics; the layers after it still learn, the ones before it too.
TEST(Graph, FrozenLayersAreLeftOutOfTheParameters) {
  Json config = branching_config();
  config["layers"][2]["trainable"] = false;  // c2
  Model model = initialized(config);
  EXPECT_EQ(model.parameters().size(), 6u);  // c1, side, dense: weight and bias each
  Tensor x({2, 2, 5, 4}), dy({2, 3, 1, 1});
  testing::fill_uniform(x, 4, -1, 1);
  testing::fill_uniform(dy, 6, -1, 1);
  model.zero_grad();
  model.forward(x, {Mode::kTrain, 1, 0, {}});
  model.backward(x, dy);
  // c1 still learns through the frozen c2 (and through the add): its gradient is not zero.
  const Tensor& c1_grad = model.parameters()[0]->grad;
  EXPECT_TRUE(
      std::any_of(c1_grad.span().begin(), c1_grad.span().end(), [](float g) { return g != 0.f; }));

  const Json bn = {{"input", {2, 3, 3}},
                   {"layers",
                    {{{"type", "batch_norm"}, {"trainable", false}},
                     {{"type", "flatten"}},
                     {{"type", "dense"}, {"units", 2}}}}};
  Model frozen = initialized(bn);
  Tensor batch({4, 2, 3, 3});
  testing::fill_uniform(batch, 8, 2, 4);  // far from the running mean 0: batch statistics differ
  const Tensor in_training = frozen.forward(batch, {Mode::kTrain, 1, 0, {}});
  const Tensor& in_evaluation = frozen.forward(batch, {Mode::kEval, 1, 0, {}});
  EXPECT_TRUE(std::equal(in_training.span().begin(), in_training.span().end(),
                         in_evaluation.span().begin()));
}

TEST(Graph, WiringErrorsNameTheLayerAndItsInputs) {
  Json cycle = branching_config();
  cycle["layers"][0]["inputs"] = "r1";
  EXPECT_NE(error_of(cycle).find("cycle: 'c1' (layer 0) reads 'r1' (layer 1)"), std::string::npos)
      << error_of(cycle);

  Json missing = branching_config();
  missing["layers"][3]["inputs"] = {"c2", "c9"};
  EXPECT_NE(error_of(missing).find("'sum' (layer 3) reads 'c9', which no layer is named"),
            std::string::npos)
      << error_of(missing);

  Json mismatch = branching_config();
  mismatch["layers"][3]["inputs"] = {"c2", "side"};
  mismatch["layers"][5]["inputs"] = {"side", "c1"};
  const std::string shapes = error_of(mismatch);
  EXPECT_NE(shapes.find("'sum' (layer 3): add needs inputs of one shape, got (1, 3, 5, 4), "
                        "(1, 2, 5, 4)"),
            std::string::npos)
      << shapes;

  Json duplicate = branching_config();
  duplicate["layers"][2]["name"] = "c1";
  EXPECT_NE(error_of(duplicate).find("layers 0 and 2 are both named 'c1'"), std::string::npos);

  Json dangling = branching_config();
  dangling["layers"][3]["inputs"] = {"c1", "c1"};
  EXPECT_NE(error_of(dangling).find("'c2' (layer 2) feeds no layer"), std::string::npos)
      << error_of(dangling);

  Json two_inputs = branching_config();
  two_inputs["layers"][1]["inputs"] = {"c1", "side"};
  EXPECT_NE(error_of(two_inputs).find("'r1' (layer 1): relu takes one input, got 2"),
            std::string::npos)
      << error_of(two_inputs);
}

TEST(Zoo, ResNetParameterCountsMatchThePapersAndTorchvision) {
  // ResNet-20 with projection shortcuts: 0.27 M (He et al. 2016, table 6), counted by hand.
  EXPECT_EQ(Model::from_config(builtin_model("resnet20", {1, 3, 32, 32}, 10)).parameter_count(),
            272474);
  // torchvision.models.resnet18(): sum(p.numel() for p in model.parameters()).
  EXPECT_EQ(Model::from_config(builtin_model("resnet18", {1, 3, 224, 224}, 1000)).parameter_count(),
            11689512);
  const Model small =
      Model::from_config(builtin_model("resnet18", {1, 3, 64, 64}, 2, {{"width", 0.25}}));
  EXPECT_EQ(small.output_shape(), (Shape{1, 2, 1, 1}));
}

}  // namespace
}  // namespace kiln::nn

namespace kiln::nn {
namespace {

// A model with layers fused and the same model with them apart, on the same weights: outputs
// and every parameter gradient bit for bit.
void expect_same_step(Model& fused, Model& apart, const Tensor& x, const Tensor& dy, Mode mode) {
  const auto pf = fused.parameters(), pa = apart.parameters();
  ASSERT_EQ(pf.size(), pa.size());
  StepContext ctx;
  ctx.mode = mode;
  for (Model* m : {&fused, &apart}) m->zero_grad();
  const Tensor yf = fused.forward(x, ctx);
  const Tensor ya = apart.forward(x, ctx);
  EXPECT_TRUE(std::equal(yf.span().begin(), yf.span().end(), ya.span().begin()));
  fused.backward(x, dy);
  apart.backward(x, dy);
  for (std::size_t i = 0; i < pf.size(); ++i) {
    EXPECT_TRUE(std::equal(pf[i]->grad.span().begin(), pf[i]->grad.span().end(),
                           pa[i]->grad.span().begin()))
        << pf[i]->name << " " << i;
  }
}

// add and batch_norm apply the ReLU after them themselves (FusesRelu). The reference is the same
// graph with an identity before each such ReLU, which keeps it a layer of its own: outputs and
// every parameter gradient agree bit for bit, in training and evaluation.
TEST(Graph, AddAndBatchNormAbsorbTheirReluBitForBit) {
  const auto config_with = [](bool apart) {
    Json layers = Json::array({conv("c1", 3),
                               {{"type", "batch_norm"}, {"name", "bn1"}},
                               {{"type", "identity"}, {"name", "gap1"}},
                               {{"type", "relu"}, {"name", "r1"}},
                               conv("c2", 3),
                               {{"type", "batch_norm"}, {"name", "bn2"}},
                               {{"type", "add"}, {"name", "sum"}, {"inputs", {"bn2", "r1"}}},
                               {{"type", "identity"}, {"name", "gap2"}},
                               {{"type", "relu"}, {"name", "r2"}},
                               {{"type", "flatten"}},
                               {{"type", "dense"}, {"units", 3}}});
    if (!apart) {  // the relus read the layers before the identities directly
      layers.erase(7);
      layers.erase(2);
      layers[2]["inputs"] = {"bn1"};
      layers[5]["inputs"] = {"bn2", "r1"};
      layers[6]["inputs"] = {"sum"};
    }
    return Json{{"input", {2, 5, 4}}, {"layers", layers}};
  };
  for (const Mode mode : {Mode::kTrain, Mode::kEval}) {
    Model fused = initialized(config_with(false)), apart = initialized(config_with(true));
    EXPECT_TRUE(fused.absorbed(2) && fused.absorbed(6)) << "r1 and r2 absorbed";
    EXPECT_FALSE(apart.absorbed(3));
    const auto pf = fused.parameters(), pa = apart.parameters();
    ASSERT_EQ(pf.size(), pa.size());
    for (std::size_t i = 0; i < pf.size(); ++i) pa[i]->value = pf[i]->value;
    Tensor x({4, 2, 5, 4}), dy({4, 3, 1, 1});
    testing::fill_uniform(x, 11, -1, 1);
    testing::fill_uniform(dy, 12, -1, 1);
    expect_same_step(fused, apart, x, dy, mode);
  }
}

// conv2d applies a ReLU6 after it itself on its GEMM paths and the depthwise one (MobileNet's
// conv → relu6), bit for bit as the two layers apart; on the winograd path it leaves it a layer.
TEST(Graph, Conv2dAbsorbsItsRelu6BitForBitExceptOnWinograd) {
  const auto config_with = [](bool apart) {
    Json layers =
        Json::array({{{"type", "conv2d"},
                      {"name", "c1"},
                      {"filters", 6},
                      {"padding", "same"},
                      {"algorithm", "gemm"}},
                     {{"type", "identity"}, {"name", "gap1"}},
                     {{"type", "relu6"}, {"name", "r1"}},
                     {{"type", "conv2d"},
                      {"name", "dw"},
                      {"depth_multiplier", 2},
                      {"strides", 2},
                      {"padding", 1}},
                     {{"type", "identity"}, {"name", "gap2"}},
                     {{"type", "relu6"}, {"name", "r2"}},
                     // over 512 KB of weights on a 3x3 output: the whole batch lowered at once
                     {{"type", "conv2d"},
                      {"name", "wide"},
                      {"filters", 1200},
                      {"algorithm", "gemm"},
                      {"padding", "same"}},
                     {{"type", "identity"}, {"name", "gap3"}},
                     {{"type", "relu6"}, {"name", "r3"}},
                     {{"type", "flatten"}},
                     {{"type", "dense"}, {"units", 3}}});
    if (!apart) {
      for (const int gap : {7, 4, 1}) layers.erase(gap);
      layers[1]["inputs"] = {"c1"};
      layers[3]["inputs"] = {"dw"};
      layers[5]["inputs"] = {"wide"};
    }
    return Json{{"input", {3, 6, 5}}, {"layers", layers}};
  };
  Model fused = initialized(config_with(false)), apart = initialized(config_with(true));
  EXPECT_TRUE(fused.absorbed(1) && fused.absorbed(3) && fused.absorbed(5));
  const auto pf = fused.parameters(), pa = apart.parameters();
  ASSERT_EQ(pf.size(), pa.size());
  for (std::size_t i = 0; i < pf.size(); ++i) {
    testing::fill_uniform(pf[i]->value, 40 + i, -1.f, 1.f);  // large enough to pass 6 and 0
    pa[i]->value = pf[i]->value;
  }
  Tensor x({5, 3, 6, 5}), dy({5, 3, 1, 1});
  testing::fill_uniform(x, 11, -2, 2);
  testing::fill_uniform(dy, 12, -1, 1);
  expect_same_step(fused, apart, x, dy, Mode::kTrain);
  const Json winograd = {
      {"input", {16, 6, 6}},
      {"layers",
       {{{"type", "conv2d"}, {"filters", 16}, {"padding", "same"}, {"algorithm", "winograd"}},
        {{"type", "relu6"}}}}};
  EXPECT_FALSE(Model::from_config(winograd).absorbed(1));
}

}  // namespace
}  // namespace kiln::nn
