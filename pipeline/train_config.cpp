#include "pipeline/train_config.hpp"

#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "io/atomic_file.hpp"
#include "nn/error.hpp"
#include "nn/layers/registry.hpp"
#include "nn/optimizer.hpp"
#include "nn/schedule.hpp"
#include "nn/zoo.hpp"

namespace kiln::pipeline {

Json default_train_config() {
  return {
      {"data", {{"train", ""}, {"validation", ""}, {"validation_split", 0.0}, {"limit", 0}}},
      {"augment", Json::array()},
      {"eval_augment", nullptr},
      {"normalization", {{"mode", "channel"}}},
      {"model", {{"name", "mlp"}, {"width", 1.0}, {"layers", nullptr}}},
      {"optimizer",
       {{"type", "sgd"},
        {"lr", 0.01},
        {"momentum", 0.9},
        {"nesterov", false},
        {"weight_decay", 0.01},
        {"clip_norm", 0.0}}},
      {"schedule", "constant"},
      {"callbacks",
       {{"monitor", ""},
        {"save_best", true},
        {"early_stopping",
         {{"enabled", false},
          {"monitor", ""},
          {"mode", "auto"},
          {"min_delta", 0.0},
          {"patience", 0},
          {"restore_best_weights", false},
          {"baseline", nullptr}}},
        {"reduce_lr",
         {{"enabled", false},
          {"monitor", ""},
          {"mode", "auto"},
          {"factor", 0.1},
          {"patience", 10},
          {"min_lr", 0.0},
          {"cooldown", 0},
          {"min_delta", 1e-4}}}}},
      {"epochs", 5},
      {"batch_size", 128},
      {"seed", 1},
      {"threads", 0},
      {"run_dir", ""},
      {"output", ""},
      {"checkpoint", ""},
      {"log_csv", ""},
      {"log_every_batches", 0},
      {"overfit", 0},
  };
}

Json load_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open the config file");
  std::stringstream text;
  text << in.rdbuf();
  try {
    Json config = Json::parse(text.str(), nullptr, true, /*ignore_comments=*/true);
    if (!config.is_object()) throw Error(path + ": a config must be a JSON object {...}");
    return config;
  } catch (const Json::parse_error& e) {
    throw Error(path + ": not valid JSON: " + e.what());
  }
}

namespace {

std::string keys_of(const Json& object) {
  std::string keys;
  for (const auto& [key, value] : object.items()) keys += (keys.empty() ? "" : ", ") + key;
  return keys;
}

void merge_at(Json& config, const Json& overlay, const std::string& origin,
              const std::string& prefix) {
  if (!overlay.is_object()) {
    throw Error(origin + ": '" + prefix + "' must be an object with keys " + keys_of(config));
  }
  for (const auto& [key, value] : overlay.items()) {
    const std::string dotted = prefix.empty() ? key : prefix + "." + key;
    if (!config.contains(key)) {
      throw Error(origin + ": unknown key '" + dotted + "'; allowed" +
                  (prefix.empty() ? "" : " in '" + prefix + "'") + ": " + keys_of(config));
    }
    Json& target = config[key];
    if (target.is_object() && !target.empty()) {
      merge_at(target, value, origin, dotted);
    } else {
      target = value;
    }
  }
}

// Typed reads that name the key, what it must be and where it came from.
class Reader {
 public:
  Reader(const Json& config, std::string origin) : config_(config), origin_(std::move(origin)) {}

  const Json& at(const std::string& dotted) const {
    const Json* node = &config_;
    std::stringstream parts(dotted);
    for (std::string part; std::getline(parts, part, '.');) node = &node->at(part);
    return *node;
  }
  [[noreturn]] void fail(const std::string& dotted, const std::string& want) const {
    throw Error(origin_ + ": '" + dotted + "' must be " + want + ", got " + at(dotted).dump());
  }
  std::string text(const std::string& dotted) const {
    if (!at(dotted).is_string()) fail(dotted, "a string");
    return at(dotted).get<std::string>();
  }
  bool flag(const std::string& dotted) const {
    if (!at(dotted).is_boolean()) fail(dotted, "true or false");
    return at(dotted).get<bool>();
  }
  double number(const std::string& dotted, double lo, double hi) const {
    const Json& v = at(dotted);
    if (!v.is_number() || v.get<double>() < lo || v.get<double>() > hi) {
      std::ostringstream range;
      range << "a number in [" << lo << ", " << hi << "]";
      fail(dotted, range.str());
    }
    return v.get<double>();
  }
  std::int64_t integer(const std::string& dotted, std::int64_t lo, std::int64_t hi) const {
    const Json& v = at(dotted);
    if (!v.is_number_integer() || v.get<std::int64_t>() < lo || v.get<std::int64_t>() > hi) {
      fail(dotted, "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    }
    return v.get<std::int64_t>();
  }
  std::string one_of(const std::string& dotted, const std::vector<std::string>& allowed) const {
    const std::string value = at(dotted).is_string() ? at(dotted).get<std::string>() : "";
    for (const auto& a : allowed) {
      if (value == a) return value;
    }
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    fail(dotted, "one of " + list);
  }
  std::string metric(const std::string& dotted) const {
    return one_of(dotted, {"", "loss", "accuracy", "val_loss", "val_accuracy"});
  }

 private:
  const Json& config_;
  std::string origin_;
};

constexpr std::int64_t kBig = std::int64_t{1} << 40;

}  // namespace

void merge_config(Json& config, const Json& overlay, const std::string& origin) {
  merge_at(config, overlay, origin, "");
}

void apply_assignment(Json& config, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw Error("--set " + assignment + ": expected key=value, e.g. --set optimizer.lr=0.001");
  }
  const std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  Json value;
  try {
    value = Json::parse(text);
  } catch (const Json::parse_error&) {
    value = text;  // a bare word: a string
  }
  // Build {"a": {"b": value}} from "a.b" and merge it, so unknown keys are caught the same way.
  Json overlay = value;
  std::vector<std::string> parts;
  std::stringstream s(key);
  for (std::string part; std::getline(s, part, '.');) parts.push_back(part);
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) overlay = Json{{*it, overlay}};
  merge_config(config, overlay, "--set " + assignment);
}

TrainRequest request_from_config(const Json& config, const std::string& origin) {
  const Reader r(config, origin);
  TrainRequest q;
  q.train_path = r.text("data.train");
  if (q.train_path.empty()) {
    throw Error(origin + ": no training data; give it as the first argument or as 'data.train'");
  }
  q.validation_path = r.text("data.validation");
  q.validation_split = r.number("data.validation_split", 0.0, 0.9);
  if (q.validation_split > 0 && !q.validation_path.empty()) {
    throw Error(origin + ": 'data.validation' and 'data.validation_split' are both set; use one");
  }
  q.limit = r.integer("data.limit", 0, kBig);
  if (!r.at("augment").is_array()) r.fail("augment", "a list of stages");
  q.train_stages = r.at("augment");
  if (!r.at("eval_augment").is_null()) {
    if (!r.at("eval_augment").is_array()) r.fail("eval_augment", "a list of stages or null");
    q.eval_stages = r.at("eval_augment");
  }

  q.normalization = r.one_of("normalization.mode", {"channel", "mean_image", "zca"});
  q.model = r.one_of("model.name", nn::builtin_model_names());
  const double width = r.number("model.width", 1e-3, 64.0);
  if (width != 1.0) q.model_options = {{"width", width}};
  if (const Json& layers = r.at("model.layers"); !layers.is_null()) {
    if (!layers.is_array() || layers.empty()) {
      r.fail("model.layers",
             "a list of layers, e.g. [{\"type\": \"conv2d\", \"filters\": 32}, ...]");
    }
    // Each layer's type and options are checked now, before any data is read; shapes once the
    // data's image size is known.
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const Json& layer = layers[i];
      const std::string where = origin + ": 'model.layers[" + std::to_string(i) + "]'";
      if (!layer.is_object() || !layer.contains("type") || !layer.at("type").is_string()) {
        throw Error(where + " must be an object with a \"type\", got " + layer.dump());
      }
      Json options = layer;
      options.erase("type");
      try {
        nn::make_layer(layer.at("type").get<std::string>(), options);
      } catch (const Error& e) {
        throw Error(where + ": " + e.what());
      }
    }
    q.model_layers = layers;
  }

  const std::string type = r.one_of("optimizer.type", nn::optimizer_types());
  q.learning_rate = static_cast<float>(r.number("optimizer.lr", 1e-12, 1e6));
  q.optimizer = {{"type", type}, {"clip_norm", r.number("optimizer.clip_norm", 0.0, 1e12)}};
  const double momentum = r.number("optimizer.momentum", 0.0, 0.999999);
  const bool nesterov = r.flag("optimizer.nesterov");
  const double weight_decay = r.number("optimizer.weight_decay", 0.0, 1e3);
  if (type == "sgd") {
    q.optimizer["momentum"] = momentum;
    q.optimizer["nesterov"] = nesterov;
  }
  if (type == "adamw") q.optimizer["weight_decay"] = weight_decay;

  q.lr_schedule = r.text("schedule");
  try {
    nn::Schedule::parse(q.lr_schedule);
  } catch (const Error& e) {
    throw Error(origin + ": 'schedule': " + e.what());
  }
  q.monitor = r.metric("callbacks.monitor");
  if (r.flag("callbacks.early_stopping.enabled")) {
    nn::EarlyStoppingOptions o;
    o.monitor = r.metric("callbacks.early_stopping.monitor");
    o.mode = r.one_of("callbacks.early_stopping.mode", {"auto", "min", "max"});
    o.min_delta = r.number("callbacks.early_stopping.min_delta", 0.0, 1e12);
    o.patience = r.integer("callbacks.early_stopping.patience", 0, kBig);
    o.restore_best_weights = r.flag("callbacks.early_stopping.restore_best_weights");
    if (!r.at("callbacks.early_stopping.baseline").is_null()) {
      o.baseline = r.number("callbacks.early_stopping.baseline", -1e300, 1e300);
    }
    q.early_stopping = o;
  }
  if (r.flag("callbacks.reduce_lr.enabled")) {
    nn::ReduceOnPlateauOptions o;
    o.monitor = r.metric("callbacks.reduce_lr.monitor");
    o.mode = r.one_of("callbacks.reduce_lr.mode", {"auto", "min", "max"});
    o.factor = r.number("callbacks.reduce_lr.factor", 1e-9, 0.999999);
    o.patience = r.integer("callbacks.reduce_lr.patience", 0, kBig);
    o.min_lr = r.number("callbacks.reduce_lr.min_lr", 0.0, 1e6);
    o.cooldown = r.integer("callbacks.reduce_lr.cooldown", 0, kBig);
    o.min_delta = r.number("callbacks.reduce_lr.min_delta", 0.0, 1e12);
    q.reduce_lr = o;
  }

  q.epochs = r.integer("epochs", 1, 1000000);
  q.batch_size = r.integer("batch_size", 1, 1 << 20);
  q.seed =
      static_cast<std::uint64_t>(r.integer("seed", 0, std::numeric_limits<std::int64_t>::max()));
  q.threads = static_cast<int>(r.integer("threads", 0, 1024));
  q.overfit = r.integer("overfit", 0, 1 << 20);

  namespace fs = std::filesystem;
  const std::string run_dir = r.text("run_dir");
  q.output_path = r.text("output");
  q.checkpoint_path = r.text("checkpoint");
  q.csv_log = r.text("log_csv");
  q.log_every_batches = r.integer("log_every_batches", 0, kBig);
  if (!run_dir.empty()) {
    const fs::path dir(run_dir);
    q.run_dir = run_dir;
    if (q.output_path.empty()) q.output_path = (dir / "model.h5").string();
    if (q.checkpoint_path.empty()) q.checkpoint_path = (dir / "checkpoint.h5").string();
    if (q.csv_log.empty()) q.csv_log = (dir / "log.csv").string();
    if (r.flag("callbacks.save_best")) q.best_path = (dir / "best.h5").string();
  }
  if (q.output_path.empty()) {
    throw Error(origin + ": nowhere to write the model; give -o FILE, --run-dir DIR, or 'output'");
  }
  return q;
}

void write_run_config(const std::string& run_dir, const Json& config) {
  const std::string path = (std::filesystem::path(run_dir) / "config.json").string();
  io::write_file_atomically(path, config.dump(2) + "\n", "the run's config");
}

}  // namespace kiln::pipeline
