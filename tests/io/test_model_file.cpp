#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "io/model_file.hpp"
#include "io/run_files/checkpoint.hpp"
#include "nn/error.hpp"
#include "nn/model/zoo.hpp"
#include "tests/support/temp_dir.hpp"

namespace kiln::io {
namespace {

TEST(ModelFile, RoundTripsWeightsOptimizerAndState) {
  testing::TempDir dir;
  nn::Model model = nn::Model::from_config(nn::builtin_model("mlp", {1, 1, 4, 4}, 3));
  model.initialize(5);
  nn::Sgd sgd(0.9f, true);
  for (nn::Parameter* p : model.parameters()) p->grad.fill(0.25f);
  auto params = model.parameters();
  sgd.step(params, 0.1f);
  nn::TrainState state{7, 3, 42, 0.05f};
  const Json preprocessing = {{"normalization", {{"mean", {1.5}}}}};
  const PreprocessingArrays arrays = {{"mean_image", {1.5f, 2.5f, 3.5f}}, {"zca", {1.f}}};
  save_model(dir.file("m.h5"), model, sgd, state, preprocessing, {"a", "b", "c"}, arrays);

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
  EXPECT_EQ(loaded.arrays, arrays);
  EXPECT_EQ(loaded.class_names, (std::vector<std::string>{"a", "b", "c"}));
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().filename(), "m.h5");  // no temporary left behind
  }
}

// A mid-epoch checkpoint: the epoch's progress and the callbacks' arrays come back exactly (the
// loss sum to the last bit); a model file leaves the arrays out.
TEST(ModelFile, KeepsTheEpochProgressAndCallbackArraysOfACheckpoint) {
  testing::TempDir dir;
  nn::Model model = nn::Model::from_config(nn::builtin_model("mlp", {1, 1, 4, 4}, 3));
  model.initialize(5);
  nn::Sgd sgd(0.9f, false);
  nn::TrainState state{7, 3, 42, 0.05f};
  state.progress = {.batches = 5,
                    .samples = 80,
                    .correct = 61,
                    .correct_top5 = 80,
                    .loss_sum = 0.1 + 0.2 + 1e-17,
                    .seconds = 1.25};
  state.callback_arrays["early_stopping.best.0"] = {1.f, -2.f, 3.5f};
  save_model(dir.file("c.h5"), model, sgd, state, Json::object(), {"a", "b", "c"}, {},
             CallbackArrays::kSave);
  const nn::TrainState back = load_model(dir.file("c.h5")).train_state;
  EXPECT_EQ(back.progress.batches, 5);
  EXPECT_EQ(back.progress.samples, 80);
  EXPECT_EQ(back.progress.correct, 61);
  EXPECT_EQ(back.progress.correct_top5, 80);
  EXPECT_EQ(back.progress.loss_sum, state.progress.loss_sum);
  EXPECT_EQ(back.progress.seconds, 1.25);
  EXPECT_EQ(back.callback_arrays, state.callback_arrays);
  EXPECT_NE(describe_model(dir.file("c.h5")).find("mid-epoch 5 batches (80 samples) into epoch 4"),
            std::string::npos);

  save_model(dir.file("m.h5"), model, sgd, state, Json::object(), {"a", "b", "c"});
  EXPECT_TRUE(load_model(dir.file("m.h5")).train_state.callback_arrays.empty());
  state.progress = {};
  save_model(dir.file("e.h5"), model, sgd, state, Json::object(), {"a", "b", "c"});
  EXPECT_EQ(load_model(dir.file("e.h5")).train_state.progress.batches, 0);
}

TEST(ModelFile, KeepsConvWeightsAndBatchNormRunningStatistics) {
  testing::TempDir dir;
  const Json config = {{"input", {1, 6, 6}},
                       {"layers",
                        {{{"type", "conv2d"}, {"filters", 2}, {"padding", "same"}},
                         {{"type", "batch_norm"}},
                         {{"type", "flatten"}},
                         {{"type", "dense"}, {"units", 3}}}}};
  nn::Model model = nn::Model::from_config(config);
  model.initialize(3);
  nn::Tensor x({4, 1, 6, 6}, 0.5f);
  x[3] = 2.f;
  model.forward(x, {nn::Mode::kTrain, 1, 0, {}, 0});  // moves the running statistics
  nn::Sgd sgd(0.f, false);
  save_model(dir.file("m.h5"), model, sgd, {}, Json::object(), {"a", "b", "c"});
  ModelBundle loaded = load_model(dir.file("m.h5"));
  nn::Layer& bn = loaded.model.layer(1);
  ASSERT_EQ(bn.buffers().size(), 2u);
  for (std::size_t b = 0; b < 2; ++b) {
    const auto& saved = model.layer(1).buffers()[b]->value;
    const auto& read = bn.buffers()[b]->value;
    EXPECT_TRUE(std::equal(saved.span().begin(), saved.span().end(), read.span().begin())) << b;
  }
  EXPECT_NE(bn.buffers()[0]->value[0], 0.f);  // really moved, really saved
  // Same eval output from the original and the loaded model.
  const nn::Tensor a = model.forward(x, {});
  const nn::Tensor b = loaded.model.forward(x, {});
  EXPECT_TRUE(std::equal(a.span().begin(), a.span().end(), b.span().begin()));
}

TEST(ModelFile, RejectsADatasetPassedAsModel) {
  testing::TempDir dir;
  nn::Model model = nn::Model::from_config(nn::builtin_model("mlp", {1, 1, 2, 2}, 2));
  nn::Sgd sgd(0.f, false);
  save_model(dir.file("m.h5"), model, sgd, {}, Json::object(), {"x", "y"});
  EXPECT_NO_THROW(load_model(dir.file("m.h5")));
  EXPECT_THROW(load_model(dir.file("missing.h5")), Error);
}

// An imported ImageNet network has 1000 classes: inspect shows the first 19 and the last.
TEST(ModelFile, DescriptionElidesLongClassLists) {
  testing::TempDir dir;
  nn::Model model = nn::Model::from_config(nn::builtin_model("mlp", {1, 1, 2, 2}, 1000));
  std::vector<std::string> names;
  for (int k = 0; k < 1000; ++k) names.push_back("n" + std::to_string(k));
  nn::Sgd sgd(0.f, false);
  save_model(dir.file("m.h5"), model, sgd, {}, Json::object(), names);
  const std::string text = describe_model(dir.file("m.h5"));
  EXPECT_NE(text.find("classes   1000: n0, n1,"), std::string::npos) << text.substr(0, 300);
  EXPECT_NE(text.find(", n18, … (980 more), n999\n"), std::string::npos) << text.substr(0, 300);
  EXPECT_EQ(text.find("n500"), std::string::npos);
  // 21 classes are all shown.
  nn::Model small = nn::Model::from_config(nn::builtin_model("mlp", {1, 1, 2, 2}, 21));
  save_model(dir.file("few.h5"), small, sgd, {}, Json::object(),
             std::vector<std::string>(names.begin(), names.begin() + 21));
  EXPECT_NE(describe_model(dir.file("few.h5")).find(", n19, n20\n"), std::string::npos);
}

// Keras' ModelCheckpoint(save_best_only): the file changes only when the monitor improves, and
// the best value so far rides in the TrainState, so a resumed run keeps comparing against it.
TEST(Checkpoint, BestOnlySavesOnImprovementAndRemembersTheBestAcrossResume) {
  testing::TempDir dir;
  nn::Model model = nn::Model::from_config(nn::builtin_model("mlp", {1, 1, 4, 4}, 3));
  model.initialize(5);
  nn::Sgd sgd(0.9f, false);
  auto make = [&] {
    return std::make_unique<Checkpoint>(dir.file("best.h5"), model, sgd, Json::object(),
                                        std::vector<std::string>{"a", "b", "c"},
                                        CheckpointOptions{.best_only = BestOnly{"val_accuracy"}});
  };
  auto best = make();
  const double accuracies[] = {0.5, 0.7, 0.6, 0.8, 0.8, 0.75};
  const std::int64_t expected_saved_epoch[] = {1, 2, 2, 4, 4, 4};  // 0.8 again is no improvement
  nn::TrainState state;
  for (int i = 0; i < 6; ++i) {
    if (i == 3) {  // a resume: a new callback, the state as read back from a checkpoint
      state.callbacks = Json::parse(state.callbacks.dump());
      best = make();
    }
    state.epoch = i + 1;
    nn::EpochLogs logs;
    logs.epoch = i + 1;
    logs.validation = nn::EvalResult{.loss = 1.0, .accuracy = accuracies[i]};
    best->on_epoch_end(state, logs);
    EXPECT_EQ(load_model(dir.file("best.h5")).train_state.epoch, expected_saved_epoch[i])
        << "after epoch " << i + 1;
  }
  EXPECT_EQ(state.callbacks["best_checkpoint"]["best"], 0.8);
}

}  // namespace
}  // namespace kiln::io
