#include <gtest/gtest.h>

#include <filesystem>

#include "io/model_file.hpp"
#include "nn/error.hpp"
#include "nn/zoo.hpp"
#include "tests/support/temp_dir.hpp"

namespace kiln::io {
namespace {

TEST(ModelFile, RoundTripsWeightsOptimizerAndState) {
  testing::TempDir dir;
  nn::Sequential model = nn::Sequential::from_config(nn::builtin_model("mlp", {1, 1, 4, 4}, 3));
  model.initialize(5);
  nn::Sgd sgd(0.9f, true);
  for (nn::Parameter* p : model.parameters()) p->grad.fill(0.25f);
  auto params = model.parameters();
  sgd.step(params, 0.1f);
  nn::TrainState state{7, 3, 42, 0.05f};
  const Json preprocessing = {{"normalization", {{"mean", {1.5}}}}};
  save_model(dir.file("m.h5"), model, sgd, state, preprocessing, {"a", "b", "c"});

  ModelBundle loaded = load_model(dir.file("m.h5"));
  EXPECT_EQ(loaded.model.config(), model.config());
  auto a = model.parameters(), b = loaded.model.parameters();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(std::equal(a[i]->value.span().begin(), a[i]->value.span().end(),
                           b[i]->value.span().begin()));
  }
  EXPECT_EQ(loaded.optimizer_state.iterations, 1);
  EXPECT_EQ(loaded.optimizer_state.slots, sgd.state().slots);
  EXPECT_EQ(loaded.optimizer_config, sgd.config());
  EXPECT_EQ(loaded.train_state.seed, 7u);
  EXPECT_EQ(loaded.train_state.epoch, 3);
  EXPECT_EQ(loaded.train_state.step, 42);
  EXPECT_FLOAT_EQ(loaded.train_state.learning_rate, 0.05f);
  EXPECT_EQ(loaded.preprocessing, preprocessing);
  EXPECT_EQ(loaded.class_names, (std::vector<std::string>{"a", "b", "c"}));
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().filename(), "m.h5");  // no temporary left behind
  }
}

TEST(ModelFile, RejectsADatasetPassedAsModel) {
  testing::TempDir dir;
  nn::Sequential model = nn::Sequential::from_config(nn::builtin_model("mlp", {1, 1, 2, 2}, 2));
  nn::Sgd sgd(0.f, false);
  save_model(dir.file("m.h5"), model, sgd, {}, Json::object(), {"x", "y"});
  EXPECT_NO_THROW(load_model(dir.file("m.h5")));
  EXPECT_THROW(load_model(dir.file("missing.h5")), Error);
}

}  // namespace
}  // namespace kiln::io
