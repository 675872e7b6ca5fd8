// The training config: layering, unknown keys, ranges, and the request it turns into.
#include <gtest/gtest.h>

#include <fstream>

#include "nn/error.hpp"
#include "pipeline/train_config.hpp"
#include "tests/support/temp_dir.hpp"

namespace kiln::pipeline {
namespace {

// The message of the kiln::Error that `body` throws ("" if none).
template <class Body>
std::string error_of(Body&& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

Json minimal() {
  Json c = default_train_config();
  c["data"]["train"] = "train.h5";
  c["output"] = "model.h5";
  return c;
}

TEST(TrainConfig, DefaultsMatchTheRequestDefaults) {
  const TrainRequest q = request_from_config(minimal(), "test");
  const TrainRequest plain;
  EXPECT_EQ(q.train_path, "train.h5");
  EXPECT_EQ(q.epochs, plain.epochs);
  EXPECT_EQ(q.batch_size, plain.batch_size);
  EXPECT_FLOAT_EQ(q.learning_rate, plain.learning_rate);
  EXPECT_EQ(q.model, plain.model);
  EXPECT_EQ(q.seed, plain.seed);
  EXPECT_EQ(q.optimizer.at("type"), "sgd");
  EXPECT_DOUBLE_EQ(q.optimizer.at("momentum").get<double>(), 0.9);
  EXPECT_FALSE(q.early_stopping.has_value());
  EXPECT_FALSE(q.reduce_lr.has_value());
}

TEST(TrainConfig, LayersOverrideKeyByKeyAndKeepTheRest) {
  Json c = minimal();
  merge_config(c, {{"optimizer", {{"lr", 0.5}}}}, "a.json");
  EXPECT_EQ(c["optimizer"]["lr"], 0.5);
  EXPECT_EQ(c["optimizer"]["type"], "sgd");    // sibling kept
  apply_assignment(c, "optimizer.type=adam");  // a bare word is a string
  apply_assignment(c, "epochs=7");
  apply_assignment(c, "callbacks.early_stopping.enabled=true");
  apply_assignment(c, "callbacks.early_stopping.patience=2");
  apply_assignment(c, "augment=[{\"type\": \"pad_crop\"}]");
  apply_assignment(c, "eval_augment=[]");
  const TrainRequest q = request_from_config(c, "test");
  EXPECT_EQ(q.optimizer.at("type"), "adam");
  EXPECT_FLOAT_EQ(q.learning_rate, 0.5f);
  EXPECT_EQ(q.epochs, 7);
  ASSERT_TRUE(q.early_stopping.has_value());
  EXPECT_EQ(q.early_stopping->patience, 2);
  EXPECT_EQ(q.train_stages.size(), 1u);
  EXPECT_EQ(q.eval_stages, Json::array());
  EXPECT_TRUE(request_from_config(minimal(), "test").eval_stages.is_null());
}

TEST(TrainConfig, UnknownKeysNameTheSourceTheKeyAndTheAllowedKeys) {
  Json c = minimal();
  const std::string nested = error_of([&] {
    merge_config(c, {{"optimizer", {{"lrr", 1}}}}, "run.json");
  });
  EXPECT_NE(nested.find("run.json"), std::string::npos) << nested;
  EXPECT_NE(nested.find("'optimizer.lrr'"), std::string::npos) << nested;
  EXPECT_NE(nested.find("lr, momentum"), std::string::npos) << nested;
  const std::string top = error_of([&] { apply_assignment(c, "epoch=3"); });
  EXPECT_NE(top.find("--set epoch=3"), std::string::npos) << top;
  EXPECT_NE(top.find("epochs"), std::string::npos) << top;
  EXPECT_NE(error_of([&] { apply_assignment(c, "no-equals-sign"); }).find("key=value"),
            std::string::npos);
}

TEST(TrainConfig, ValuesOutOfRangeNameTheKeyAndTheRange) {
  struct Case {
    const char* assignment;
    const char* expected;
  };
  for (const Case& k :
       {Case{"epochs=0", "'epochs' must be an integer in [1, 1000000]"},
        Case{"batch_size=2.5", "'batch_size' must be an integer"},
        Case{"optimizer.lr=-1", "'optimizer.lr' must be a number"},
        Case{"model.name=resnet", "one of alexnet, cifar_cnn"},
        Case{"optimizer.nesterov=1", "true or false"}, Case{"schedule=linear", "'schedule'"},
        Case{"data.validation_split=0.95", "'data.validation_split'"},
        Case{"callbacks.monitor=val_acc", "val_accuracy"}}) {
    Json c = minimal();
    apply_assignment(c, k.assignment);
    const std::string what = error_of([&] { request_from_config(c, "cfg.json"); });
    EXPECT_NE(what.find(k.expected), std::string::npos) << k.assignment << ": " << what;
    EXPECT_NE(what.find("cfg.json"), std::string::npos) << what;
  }
}

TEST(TrainConfig, RunDirectoryPlacesTheFilesAndOneValidationSourceIsAllowed) {
  Json c = minimal();
  c["output"] = "";
  c["run_dir"] = "runs/a";
  const TrainRequest q = request_from_config(c, "test");
  EXPECT_EQ(q.output_path, "runs/a/model.h5");
  EXPECT_EQ(q.checkpoint_path, "runs/a/checkpoint.h5");
  EXPECT_EQ(q.csv_log, "runs/a/log.csv");
  c["run_dir"] = "";
  EXPECT_NE(error_of([&] { request_from_config(c, "test"); }).find("nowhere to write"),
            std::string::npos);
  Json both = minimal();
  both["data"]["validation"] = "val.h5";
  both["data"]["validation_split"] = 0.1;
  EXPECT_NE(error_of([&] { request_from_config(both, "test"); }).find("use one"),
            std::string::npos);
}

TEST(TrainConfig, FilesParseWithCommentsAndSyntaxErrorsNameTheFile) {
  testing::TempDir dir;
  std::ofstream(dir.file("ok.json")) << "{\n  // Fashion-MNIST\n  \"epochs\": 3\n}\n";
  EXPECT_EQ(load_config_file(dir.file("ok.json")).at("epochs"), 3);
  std::ofstream(dir.file("bad.json")) << "{\"epochs\": 3,}";
  const std::string what = error_of([&] { load_config_file(dir.file("bad.json")); });
  EXPECT_NE(what.find("bad.json: not valid JSON"), std::string::npos) << what;
  std::ofstream(dir.file("list.json")) << "[1, 2]";
  EXPECT_NE(error_of([&] { load_config_file(dir.file("list.json")); }).find("JSON object"),
            std::string::npos);
  // What a run directory keeps reads back as the same config.
  write_run_config(dir.file("run"), minimal());
  EXPECT_EQ(load_config_file(dir.file("run/config.json")), minimal());
}

}  // namespace
}  // namespace kiln::pipeline

namespace kiln::pipeline {
namespace {

// The configs shipped in examples/ stay valid as the schema changes.
TEST(TrainConfig, ShippedExamplesAreValid) {
  for (const char* name : {"fashion-mnist.json", "hymenoptera.json"}) {
    const std::string path = std::string(KILN_TEST_SOURCE_DIR) + "/../examples/" + name;
    Json config = default_train_config();
    merge_config(config, load_config_file(path), path);
    const TrainRequest q = request_from_config(config, path);
    EXPECT_FALSE(q.train_path.empty()) << name;
    EXPECT_FALSE(q.train_stages.empty()) << name;
  }
}

}  // namespace
}  // namespace kiln::pipeline
