// The training config: layering, unknown keys, ranges, and the request it turns into.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "nn/error.hpp"
#include "pipeline/training/train_config.hpp"
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

TEST(TrainConfig, DefaultsAreTheStructsAndRoundTrip) {
  const TrainConfig plain;
  const TrainConfig read = train_config_from_json(minimal(), "test");
  EXPECT_EQ(read.data.train, "train.h5");
  EXPECT_EQ(read.epochs, plain.epochs);
  EXPECT_EQ(read.batch_size, plain.batch_size);
  EXPECT_EQ(read.optimizer.lr, plain.optimizer.lr);
  EXPECT_EQ(read.model.name, plain.model.name);
  EXPECT_EQ(read.callbacks.reduce_lr.options.patience, nn::ReduceOnPlateauOptions{}.patience);
  EXPECT_FALSE(read.callbacks.early_stopping.enabled);
  EXPECT_EQ(to_json(read), minimal());
  EXPECT_EQ(default_train_config(), to_json(plain));
  // The key table lists every key of the JSON form, with the default the struct gives it.
  std::size_t listed = 0;
  for (const ConfigKey& k : train_config_keys()) {
    const Json defaults = default_train_config();
    const Json* node = &defaults;
    std::stringstream parts(k.key);
    for (std::string part; std::getline(parts, part, '.');) node = &node->at(part);
    EXPECT_EQ(*node, k.default_value) << k.key;
    EXPECT_FALSE(k.meaning.empty()) << k.key;
    EXPECT_FALSE(k.rule.empty()) << k.key;
    ++listed;
  }
  EXPECT_EQ(listed, default_train_config().flatten().size());
}

TEST(TrainConfig, OptimizerConfigCarriesOnlyTheChosenOptimizersOptions) {
  TrainConfig c;
  EXPECT_EQ(c.optimizer_config(),
            Json({{"type", "sgd"}, {"clip_norm", 0.0}, {"momentum", 0.9}, {"nesterov", false}}));
  c.optimizer.type = "adamw";  // weight_decay 0: AdamW's own 0.01
  EXPECT_EQ(c.optimizer_config(),
            Json({{"type", "adamw"}, {"clip_norm", 0.0}, {"weight_decay", 0.01}}));
  c.optimizer.type = "sgd";
  c.optimizer.weight_decay = 5e-4;
  EXPECT_EQ(c.optimizer_config()["weight_decay"], 5e-4);
}

TEST(TrainConfig, WeightDecayOnAnOptimizerWithoutItIsRefused) {
  Json c = minimal();
  merge_config(c, {{"optimizer", {{"type", "adam"}, {"weight_decay", 1e-4}}}}, "a.json");
  try {
    train_config_from_json(c, "a.json");
    FAIL() << "adam with weight_decay was accepted";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("'optimizer.weight_decay' applies to sgd and adamw, not adam"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("use \"type\": \"adamw\""), std::string::npos) << what;
  }
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
  const TrainConfig q = train_config_from_json(c, "test");
  EXPECT_EQ(q.optimizer.type, "adam");
  EXPECT_EQ(q.optimizer.lr, 0.5);
  EXPECT_EQ(q.epochs, 7);
  EXPECT_TRUE(q.callbacks.early_stopping.enabled);
  EXPECT_EQ(q.callbacks.early_stopping.options.patience, 2);
  EXPECT_EQ(q.augment.size(), 1u);
  EXPECT_EQ(q.eval_augment, Json::array());
  EXPECT_TRUE(train_config_from_json(minimal(), "test").eval_augment.is_null());
}

// "loss": "NAME" (the older form, and Keras' loss="...") is short for loss.type, as
// "optimizer": "adam" is for optimizer.type; the loss's other keys sit beside it.
TEST(TrainConfig, AStringForAnObjectWithATypeNamesTheType) {
  Json c = minimal();
  merge_config(c, {{"loss", "mean_squared_error"}, {"optimizer", "adam"}}, "old.json");
  apply_assignment(c, "loss.class_weights=auto");
  TrainConfig q = train_config_from_json(c, "test");
  EXPECT_EQ(q.loss.type, "mean_squared_error");
  EXPECT_EQ(q.optimizer.type, "adam");
  EXPECT_EQ(q.loss.class_weights, "auto");
  apply_assignment(c, "loss={\"type\": \"softmax_cross_entropy\", \"label_smoothing\": 0.1}");
  q = train_config_from_json(c, "test");
  EXPECT_EQ(q.loss.type, "softmax_cross_entropy");
  EXPECT_DOUBLE_EQ(q.loss.label_smoothing, 0.1);
  for (const char* bad : {"loss.class_weights=[1, -2]", "loss.class_weights=balanced",
                          "loss.class_weights=[]", "loss.label_smoothing=1"}) {
    Json d = minimal();
    const std::string message = error_of([&] { apply_assignment(d, bad); });
    EXPECT_NE(message.find("'loss."), std::string::npos) << bad << ": " << message;
  }
}

TEST(TrainConfig, NoDecayTakesKnownKindsForOptimizersThatDecay) {
  Json c = minimal();
  apply_assignment(c, "optimizer.no_decay=[\"bias\", \"batch_norm\"]");
  EXPECT_EQ(train_config_from_json(c, "test").optimizer.no_decay,
            Json::array({"bias", "batch_norm"}));
  Json bad = minimal();
  EXPECT_NE(error_of([&] {
              apply_assignment(bad, "optimizer.no_decay=[\"norms\"]");
            }).find("'optimizer.no_decay'"),
            std::string::npos);
  apply_assignment(c, "optimizer.type=adam");
  const std::string adam = error_of([&] { train_config_from_json(c, "test"); });
  EXPECT_NE(adam.find("'optimizer.no_decay'"), std::string::npos) << adam;
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

// Each layer is checked as it is laid on: the message names the layer (the file, the --set) and
// the key, and the error is a ConfigError (kiln exits 2 for it).
TEST(TrainConfig, ValuesOutOfRangeNameTheSourceTheKeyAndTheRange) {
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
        Case{"callbacks.monitor=val_acc", "val_accuracy"},
        Case{"model.layers=[{\"type\": \"dense\", \"unit\": 3}]", "unknown option 'unit'"}}) {
    Json c = minimal();
    std::string what;
    try {
      apply_assignment(c, k.assignment);
    } catch (const ConfigError& e) {
      what = e.what();
    }
    EXPECT_NE(what.find(k.expected), std::string::npos) << k.assignment << ": " << what;
    EXPECT_NE(what.find(std::string("--set ") + k.assignment), std::string::npos) << what;
    Json overlay = Json::object();
    const std::string text(k.assignment);
    const auto eq = text.find('=');
    Json value;
    try {
      value = Json::parse(text.substr(eq + 1));
    } catch (const Json::parse_error&) {
      value = text.substr(eq + 1);
    }
    Json* node = &overlay;
    std::stringstream parts(text.substr(0, eq));
    for (std::string part; std::getline(parts, part, '.');) node = &(*node)[part];
    *node = value;
    const std::string from_file = error_of([&] { merge_config(c, overlay, "cfg.json"); });
    EXPECT_NE(from_file.find("cfg.json: '"), std::string::npos) << from_file;
  }
}

TEST(TrainConfig, RunDirectoryPlacesTheFilesAndRulesBetweenKeysHold) {
  Json c = minimal();
  c["output"] = "";
  c["run_dir"] = "runs/a";
  const TrainConfig q = train_config_from_json(c, "test");
  EXPECT_EQ(q.output_path(), "runs/a/model.h5");
  EXPECT_EQ(q.checkpoint_path(), "runs/a/checkpoint.h5");
  EXPECT_EQ(q.csv_log_path(), "runs/a/log.csv");
  EXPECT_EQ(q.best_path(), "runs/a/best.h5");
  c["run_dir"] = "";
  EXPECT_NE(error_of([&] { train_config_from_json(c, "test"); }).find("nowhere to write"),
            std::string::npos);
  Json both = minimal();
  both["data"]["validation"] = "val.h5";
  both["data"]["validation_split"] = 0.1;
  EXPECT_NE(error_of([&] { train_config_from_json(both, "test"); }).find("use one"),
            std::string::npos);
  Json val_metric = minimal();
  val_metric["callbacks"]["early_stopping"]["monitor"] = "val_accuracy";
  const std::string what = error_of([&] { train_config_from_json(val_metric, "run.json"); });
  EXPECT_NE(what.find("'callbacks.early_stopping.monitor' is val_accuracy"), std::string::npos)
      << what;
  EXPECT_THROW(train_config_from_json(val_metric, "run.json"), ConfigError);
  Json no_data = minimal();
  no_data["data"]["train"] = "";
  EXPECT_THROW(train_config_from_json(no_data, "test"), ConfigError);
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
  for (const char* name : {"fashion-mnist.json", "fashion-mnist-resnet.json", "hymenoptera.json",
                           "hymenoptera-resnet18.json"}) {
    const std::string path = std::string(KILN_TEST_SOURCE_DIR) + "/../examples/" + name;
    Json config = default_train_config();
    merge_config(config, load_config_file(path), path);
    const TrainConfig q = train_config_from_json(config, path);
    EXPECT_FALSE(q.data.train.empty()) << name;
    EXPECT_FALSE(q.augment.empty()) << name;
  }
}

}  // namespace
}  // namespace kiln::pipeline
