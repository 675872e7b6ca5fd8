// Blocks: a "residual" entry becomes He et al.'s basic block, written out here by hand.
#include <gtest/gtest.h>

#include "nn/error.hpp"
#include "nn/model/blocks.hpp"
#include "nn/model/model.hpp"
#include "nn/model/zoo.hpp"
#include "tests/support/gradient_check.hpp"

namespace kiln::nn {
namespace {

Json conv(const std::string& name, std::int64_t filters, std::int64_t kernel, std::int64_t strides,
          const Json& inputs = nullptr) {
  Json layer = {{"type", "conv2d"},    {"filters", filters}, {"kernel_size", kernel},
                {"strides", strides},  {"padding", "same"},  {"use_bias", false},
                {"init", "he_normal"}, {"name", name}};
  if (!inputs.is_null()) layer["inputs"] = inputs;
  return layer;
}
Json bn(const std::string& name) {
  return {{"type", "batch_norm"}, {"momentum", 0.9}, {"epsilon", 1e-5}, {"name", name}};
}
Json named(const char* type, const std::string& name, const Json& inputs = nullptr) {
  Json layer = {{"type", type}, {"name", name}};
  if (!inputs.is_null()) layer["inputs"] = inputs;
  return layer;
}

// A stem, one block that keeps the shape (identity shortcut), one that halves it and doubles
// the channels (projection), and a head that reads the last block by its name.
const Json kBlocks =
    Json::array({{{"type", "conv2d"}, {"filters", 4}, {"padding", "same"}},
                 {{"type", "residual"}, {"filters", 4}},
                 {{"type", "residual"}, {"filters", 8}, {"strides", 2}, {"name", "down"}},
                 {{"type", "global_avg_pool2d"}, {"inputs", "down"}},
                 {{"type", "dense"}, {"units", 3}}});

TEST(ResidualBlock, ExpandsIntoTheBasicBlockWrittenByHand) {
  const Json expected = Json::array({
      {{"type", "conv2d"}, {"filters", 4}, {"padding", "same"}, {"name", "conv2d_1"}},
      conv("residual_1_conv1", 4, 3, 1, "conv2d_1"),
      bn("residual_1_conv1_bn"),
      named("relu", "residual_1_relu1"),
      conv("residual_1_conv2", 4, 3, 1),
      bn("residual_1_conv2_bn"),
      named("add", "residual_1_add", {"residual_1_conv2_bn", "conv2d_1"}),
      named("relu", "residual_1"),
      conv("down_conv1", 8, 3, 2, "residual_1"),
      bn("down_conv1_bn"),
      named("relu", "down_relu1"),
      conv("down_conv2", 8, 3, 1),
      bn("down_conv2_bn"),
      conv("down_proj", 8, 1, 2, "residual_1"),
      bn("down_proj_bn"),
      named("add", "down_add", {"down_conv2_bn", "down_proj_bn"}),
      named("relu", "down"),
      {{"type", "global_avg_pool2d"}, {"inputs", "down"}, {"name", "global_avg_pool2d_1"}},
      {{"type", "dense"}, {"units", 3}, {"name", "dense_1"}},
  });
  const Json got = expand_blocks(kBlocks, {1, 2, 6, 6});
  ASSERT_EQ(got.size(), expected.size()) << got.dump(1);
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], expected[i]) << i;

  // conv 2·4·9 + 4; block 1: 2·(4·4·9 + 2·4); block 2: 4·8·9 + 8·8·9 + 4·8 + 3·2·8; dense 8·3 + 3.
  Model model = Model::from_config({{"input", {2, 6, 6}}, {"layers", kBlocks}});
  EXPECT_EQ(model.parameter_count(), 76 + 304 + (288 + 576 + 32 + 48) + 27);
  EXPECT_EQ(model.output_shape(), (Shape{1, 3, 1, 1}));
}

TEST(ResidualBlock, ShortcutCanBeForcedAndAFrozenBlockFreezesAllItsLayers) {
  Json layers = kBlocks;
  layers[1]["shortcut"] = "projection";
  layers[1]["trainable"] = false;
  const Json got = expand_blocks(layers, {1, 2, 6, 6});
  EXPECT_EQ(got.size(), 21u);  // two more: residual_1_proj and its batch norm
  for (const Json& layer : got) {
    const bool in_block = layer["name"].get<std::string>().rfind("residual_1", 0) == 0;
    EXPECT_EQ(layer.value("trainable", true), !in_block) << layer.dump();
  }
}

TEST(ResidualBlock, GradientsMatchFiniteDifferences) {
  Model model = Model::from_config({{"input", {2, 6, 6}}, {"layers", kBlocks}});
  model.initialize(4);
  std::uint64_t key = 10;
  for (Parameter* p : model.parameters()) testing::fill_uniform(p->value, ++key, -.5f, .5f);
  Tensor x({3, 2, 6, 6}), dy({3, 3, 1, 1});
  testing::fill_uniform(x, 1, -1, 1);
  testing::fill_uniform(dy, 2, -1, 1);
  testing::expect_model_gradients_match(model, x, dy, 1e-3f);
}

TEST(ResidualBlock, ZooResNetsAreBuiltFromBlocks) {
  const Json resnet = builtin_model("resnet20", {1, 3, 32, 32}, 10);
  std::vector<std::string> blocks;
  for (const Json& layer : resnet["layers"]) {
    if (layer["type"] == "add") blocks.push_back(layer["inputs"][1]);
  }
  // Shortcuts: projected where a stage starts (not in stage 1: 16 channels in and out).
  EXPECT_EQ(blocks,
            (std::vector<std::string>{"stem_relu", "stage1_block1", "stage1_block2",
                                      "stage2_block1_proj_bn", "stage2_block1", "stage2_block2",
                                      "stage3_block1_proj_bn", "stage3_block1", "stage3_block2"}));
}

std::string error_of(const Json& layers) {
  try {
    Model::from_config({{"input", {2, 6, 6}}, {"layers", layers}});
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(ResidualBlock, MistakesNameTheBlock) {
  Json identity = kBlocks;
  identity[2]["shortcut"] = "identity";
  EXPECT_NE(error_of(identity).find("'down' (layer 2): residual: an identity shortcut needs the "
                                    "input's shape, but the input has 4 channels and the block 8 "
                                    "filters with strides 2"),
            std::string::npos)
      << error_of(identity);

  Json unknown = kBlocks;
  unknown[1]["filter"] = 4;
  EXPECT_NE(error_of(unknown).find("'residual_1' (layer 1): residual: unknown option 'filter'"),
            std::string::npos)
      << error_of(unknown);
  EXPECT_THROW(check_block_options("residual", {{"filter", 4}}), Error);

  Json missing = kBlocks;
  missing[1].erase("filters");
  EXPECT_NE(error_of(missing).find("residual: 'filters' is required"), std::string::npos)
      << error_of(missing);

  Json two = kBlocks;
  two[2]["inputs"] = {"conv2d_1", "residual_1"};
  EXPECT_NE(error_of(two).find("'down' (layer 2): residual takes one input, got 2"),
            std::string::npos)
      << error_of(two);
}

}  // namespace
}  // namespace kiln::nn
