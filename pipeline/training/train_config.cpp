#include "pipeline/training/train_config.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <sstream>

#include "io/atomic_file.hpp"
#include "io/image_index.hpp"
#include "io/run_files/run_directory.hpp"
#include "nn/error.hpp"
#include "nn/layers/registry.hpp"
#include "nn/loss.hpp"
#include "nn/model/blocks.hpp"
#include "nn/model/graph.hpp"
#include "nn/model/zoo.hpp"
#include "nn/parallel.hpp"
#include "nn/training/optimizer.hpp"
#include "nn/training/weight_decay.hpp"
#include "pipeline/batch_mixing.hpp"
#include "pipeline/transforms/pca_lighting.hpp"
#include "pipeline/transforms/registry.hpp"

namespace kiln::pipeline {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kBig = static_cast<double>(std::int64_t{1} << 40);

// What a key's value must be beyond its JSON type: a range for numbers, a list for words, or a
// check of its own for structured values (which also says what it wants).
struct Rule {
  double lo = -kInf, hi = kInf;
  std::vector<std::string> one_of;
  std::string want;  // for `check`: e.g. "a list of stages"
  // Throws kiln::ConfigError starting with `where` ("origin: 'key"), which it may extend with the
  // part of the value at fault ("[2]") before closing the quote.
  std::function<void(const Json&, const std::string& where)> check;
};

Rule any() { return {}; }
Rule range(double lo, double hi) { return {lo, hi, {}, {}, {}}; }
Rule choice(std::vector<std::string> values) { return {-kInf, kInf, std::move(values), {}, {}}; }
Rule metric() {
  return choice({"", "loss", "accuracy", "val_loss", "val_accuracy", "mae", "val_mae"});
}
Rule checked(std::string want, std::function<void(const Json&, const std::string&)> check) {
  return {-kInf, kInf, {}, std::move(want), std::move(check)};
}

// Each stage's type and options are checked now, before any data is read. pca_lighting's basis,
// when left out, is fitted on the training set later: any valid basis stands in for it here.
// A batch stage (mixup, cutmix) may end the training list; eval forms have none.
void check_stage_list(const Json& v, const std::string& where, bool batch_stage_allowed) {
  if (!v.is_array()) throw ConfigError(where + "' must be a list of stages, got " + v.dump());
  const std::vector<double> stand_in = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  try {
    const auto [per_sample, batch] = split_batch_stage(v);
    if (!batch.is_null()) {
      if (!batch_stage_allowed) {
        throw Error(batch.at("type").get<std::string>() +
                    " mixes training batches and has no eval form; list it in 'augment'");
      }
      BatchMixing::from_json(batch);
    }
    make_stages(with_fitted_pca(per_sample, stand_in, ""));
  } catch (const Error& e) {
    throw ConfigError(where + "': " + e.what());
  }
}

void check_layer_list(const Json& layers, const std::string& where) {
  if (layers.is_null()) return;
  if (!layers.is_array() || layers.empty()) {
    throw ConfigError(where +
                      "' must be a list of layers, e.g. [{\"type\": \"conv2d\", \"filters\": "
                      "32}, ...], got " +
                      layers.dump());
  }
  // Each layer's type and options are checked now, before any data is read; shapes once the
  // data's image size is known.
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Json& layer = layers[i];
    const std::string at = where + "[" + std::to_string(i) + "]'";
    if (!layer.is_object() || !layer.contains("type") || !layer.at("type").is_string()) {
      throw ConfigError(at + " must be an object with a \"type\", got " + layer.dump());
    }
  }
  nn::LayerGraph graph;
  try {
    graph = nn::LayerGraph::parse(layers);
  } catch (const Error& e) {
    throw ConfigError(where + "': " + e.what());
  }
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const nn::GraphNode& node = graph.nodes()[i];
    try {
      if (nn::is_block_type(node.type)) {
        nn::check_block_options(node.type, node.options);
      } else {
        nn::make_layer(node.type, node.options);
      }
    } catch (const Error& e) {
      throw ConfigError(where + "[" + std::to_string(i) + "]': " + e.what());
    }
  }
}

void check_class_weights(const Json& v, const std::string& where) {
  if (v.is_null() || v == "auto") return;
  if (v.is_array() && !v.empty()) {
    for (std::size_t c = 0; c < v.size(); ++c) {
      if (!v[c].is_number() || !(v[c].get<double>() >= 0) || !std::isfinite(v[c].get<double>()))
        throw ConfigError(where + "[" + std::to_string(c) + "]' must be a number >= 0, got " +
                          v[c].dump());
    }
    return;
  }
  throw ConfigError(where + "' must be null, \"auto\" or a list of weights >= 0, got " + v.dump());
}

void check_no_decay(const Json& v, const std::string& where) {
  const auto& kinds = nn::no_decay_kinds();
  if (v.is_array()) {
    bool ok = true;
    for (const Json& kind : v) {
      ok = ok && kind.is_string() &&
           std::find(kinds.begin(), kinds.end(), kind.get<std::string>()) != kinds.end();
    }
    if (ok) return;
  }
  throw ConfigError(where + "' must be a list of bias, batch_norm, got " + v.dump());
}

// clang-format off
// The table of keys: name, field, rule, meaning. The one place each key is written. In four parts
// (what is trained on, how, when it stops, where it goes); for_each_key() runs them in order.
template <class Config, class Key>
void data_and_model_keys(Config& c, Key& key) {
  std::vector<std::string> tasks = nn::task_names();
  tasks.insert(tasks.begin(), "");
  key("task", c.task, choice(tasks),
      "what a target is: classification, multi_label or regression (\"\": the training "
      "dataset's, as kiln preprocess --task stored it)");
  key("data.train", c.data.train, any(),
      "training data: a kiln HDF5 dataset or a folder of class folders");
  key("data.validation", c.data.validation, any(),
      "dataset or folder evaluated after every epoch (never augmented, never trained on)");
  key("data.validation_split", c.data.validation_split, range(0.0, io::kMaxValidationFraction),
      "hold out this fraction of the training data instead: stratified per class, fixed by the "
      "seed, the same images every epoch");
  key("data.folds", c.data.folds, range(0, 100),
      "k-fold cross-validation: split the training data into this many stratified, seeded folds "
      "(0: off; kiln train --folds K trains one model per fold)");
  key("data.fold", c.data.fold, range(0, 100),
      "with data.folds: the fold (1..folds) held out as validation data (0: every fold, one "
      "run each)");
  key("data.limit", c.data.limit, range(0, kBig), "train on the first N samples only (0: all)");
  key("data.sampler", c.data.sampler, choice({"random", "balanced"}),
      "each epoch's order: random (a permutation), or balanced (each draw a class chosen "
      "uniformly, then one of its samples: PyTorch's WeightedRandomSampler by 1/count)");
  key("augment", c.augment,
      checked("a list of stages",
              [](const Json& v, const std::string& where) { check_stage_list(v, where, true); }),
      "training stages, applied in order (README: Augmentation)");
  key("eval_augment", c.eval_augment,
      checked("a list of stages or null",
              [](const Json& v, const std::string& where) {
                if (!v.is_null()) check_stage_list(v, where, false);
              }),
      "the stages whose eval forms validation, evaluate and predict run (null: augment's)");
  key("normalization.mode", c.normalization, choice({"channel", "mean_image", "zca"}),
      "channel: (x - mean[c]) / std[c]; mean_image: (x - M[y][x][c]) / std[c]; zca: the matrix "
      "of kiln fit --zca");
  key("model.name", c.model.name, choice(nn::builtin_model_names()), "built-in model");
  key("model.width", c.model.width, range(1e-3, 64.0),
      "channel multiplier of alexnet, vgg16, resnet20 and resnet18 (e.g. 0.25)");
  key("model.layers", c.model.layers,
      checked("a list of layers, e.g. [{\"type\": \"conv2d\", \"filters\": 32}, ...]",
              check_layer_list),
      "your own model instead of model.name: a list of layers (README: Models)");
  key("model.init_from", c.model.init_from, any(),
      "warm start: copy the weights of this model file's layers whose name and shapes match");
  key("model.fine_tune", c.model.fine_tune, any(),
      "fine-tune this model file (e.g. from kiln import): its layers, weights and normalization, "
      "a new output layer for this data's classes; instead of model.name or model.layers");
  key("model.freeze", c.model.freeze, any(),
      "freeze the layers listed up to this one (by name): no gradient step, batch norm on its "
      "running statistics");
}

template <class Config, class Key>
void optimizer_keys(Config& c, Key& key) {
  std::vector<std::string> losses = nn::loss_names();
  losses.insert(losses.begin(), "");
  key("loss.type", c.loss.type, choice(losses),
      "training loss on the logits (\"\": the task's, softmax_cross_entropy, "
      "sigmoid_binary_cross_entropy or mean_squared_error); mean_absolute_error and huber also "
      "fit regression (\"loss\": \"NAME\" is short for it)");
  key("loss.delta", c.loss.delta, range(1e-12, 1e12),
      "huber: where the squared error turns linear (PyTorch's HuberLoss delta)");
  key("loss.label_smoothing", c.loss.label_smoothing, range(0.0, 0.999),
      "label smoothing ε: targets (1 - ε)·t + ε/K (softmax) or + ε/2 (sigmoid), as Keras and "
      "PyTorch smooth");
  key("loss.class_weights", c.loss.class_weights,
      checked("null, \"auto\" or a list of weights >= 0", check_class_weights),
      "weigh each training sample's loss by its class: \"auto\" = N / (K · count of the class) "
      "from the training data, or one weight per class");
  key("optimizer.type", c.optimizer.type, choice(nn::optimizer_types()), "optimizer");
  key("optimizer.lr", c.optimizer.lr, range(1e-12, 1e6), "learning rate");
  key("optimizer.momentum", c.optimizer.momentum, range(0.0, 0.999999), "SGD momentum");
  key("optimizer.nesterov", c.optimizer.nesterov, any(), "SGD: Nesterov momentum");
  key("optimizer.weight_decay", c.optimizer.weight_decay, range(0.0, 1e3),
      "weight decay: SGD adds weight_decay·w to the gradient (L2, as Caffe and PyTorch); "
      "AdamW decays the weight apart from the gradient (0: AdamW's default 0.01)");
  key("optimizer.no_decay", c.optimizer.no_decay,
      checked("a list of bias, batch_norm", check_no_decay),
      "parameter kinds the weight decay skips, e.g. [\"bias\", \"batch_norm\"] (Goyal et al.)");
  key("optimizer.clip_norm", c.optimizer.clip_norm, range(0.0, 1e12),
      "rescale the gradients when their global L2 norm exceeds this (0: off)");
  key("schedule", c.schedule, any(),
      "learning-rate schedule: constant, step:K:F, exponential:D, cosine[:MIN] or "
      "piecewise:0=R0,E1=R1,..., optionally +warmup:W");
  key("epochs", c.epochs, range(1, 1000000), "passes over the training data");
  key("batch_size", c.batch_size, range(1, 1 << 20), "samples per optimizer step");
  key("micro_batch_size", c.micro_batch_size, range(0, 1 << 20),
      "samples per micro-batch (0: batch_size): a step sums its micro-batches' gradients in "
      "order, on one process (accumulation) or spread over MPI ranks");
}

template <class Config, class Key>
void callback_keys(Config& c, Key& key) {
  key("callbacks.monitor", c.callbacks.monitor, metric(),
      "metric of early stopping, reduce_lr and save_best: loss, accuracy, val_loss, val_accuracy "
      "(\"\": val_loss with validation data, else loss)");
  key("callbacks.save_best", c.callbacks.save_best, any(),
      "with a run directory: keep the best epoch's model in best.h5");
  auto& es = c.callbacks.early_stopping;
  key("callbacks.early_stopping.enabled", es.enabled, any(), "stop when the metric stalls");
  key("callbacks.early_stopping.monitor", es.monitor, metric(), "\"\": callbacks.monitor");
  key("callbacks.early_stopping.mode", es.options.mode, choice({"auto", "min", "max"}),
      "auto: max for accuracies, else min");
  key("callbacks.early_stopping.min_delta", es.options.min_delta, range(0.0, 1e12),
      "smallest change that counts as improvement");
  key("callbacks.early_stopping.patience", es.options.patience, range(0, kBig),
      "epochs without improvement before stopping");
  key("callbacks.early_stopping.restore_best_weights", es.options.restore_best_weights, any(),
      "end with the best epoch's weights");
  key("callbacks.early_stopping.baseline", es.options.baseline, range(-1e300, 1e300),
      "stop unless the metric beats this (null: none)");
  auto& rl = c.callbacks.reduce_lr;
  key("callbacks.reduce_lr.enabled", rl.enabled, any(), "lower the rate when the metric stalls");
  key("callbacks.reduce_lr.monitor", rl.monitor, metric(), "\"\": callbacks.monitor");
  key("callbacks.reduce_lr.mode", rl.options.mode, choice({"auto", "min", "max"}),
      "auto: max for accuracies, else min");
  key("callbacks.reduce_lr.factor", rl.options.factor, range(1e-9, 0.999999),
      "multiplies the rate at each reduction");
  key("callbacks.reduce_lr.patience", rl.options.patience, range(0, kBig),
      "epochs without improvement before a reduction");
  key("callbacks.reduce_lr.min_lr", rl.options.min_lr, range(0.0, 1e6), "lowest rate");
  key("callbacks.reduce_lr.cooldown", rl.options.cooldown, range(0, kBig),
      "epochs after a reduction before counting again");
  key("callbacks.reduce_lr.min_delta", rl.options.min_delta, range(0.0, 1e12),
      "smallest change that counts as improvement");
}

template <class Config, class Key>
void run_keys(Config& c, Key& key) {
  key("seed", c.seed, range(0, static_cast<double>(std::numeric_limits<std::int64_t>::max())),
      "seed of every random choice: initialization, order, augmentation, validation split");
  key("threads", c.threads, range(0, nn::kMaxThreads), "worker threads (0: all cores)");
  key("run_dir", c.run_dir, any(),
      "run directory: config.json, log.csv, plots, checkpoint.h5, best.h5 and model.h5");
  key("output", c.output, any(), "model file to write (\"\": run_dir/model.h5)");
  key("checkpoint", c.checkpoint, any(),
      "the whole training state, saved after every epoch (\"\": run_dir/checkpoint.h5)");
  key("checkpoint_every", c.checkpoint_every, range(0, kBig),
      "also save the checkpoint every N optimizer steps, mid-epoch; --resume continues from "
      "the next batch (0: at epoch ends only)");
  key("log_csv", c.log_csv, any(), "one CSV row per epoch (\"\": run_dir/log.csv)");
  key("log_every_batches", c.log_every_batches, range(0, kBig),
      "with a run directory: a row of batches.csv every N batches (0: off)");
  key("diagnostics", c.diagnostics, range(0, kBig),
      "with a run directory: at the first step and every N, per-layer activation statistics, "
      "dead ReLUs, "
      "gradient and weight norms and update ratios in diagnostics.csv and .png (0: off)");
  key("overfit", c.overfit, range(0, 1 << 20),
      "sanity check: the first N samples, no augmentation, dropout or regularization, plain "
      "SGD; fails unless training accuracy reaches 100%");
}
// clang-format on

template <class Config, class Key>
void for_each_key(Config& c, Key&& key) {
  data_and_model_keys(c, key);
  optimizer_keys(c, key);
  callback_keys(c, key);
  run_keys(c, key);
}

// What a field of each C++ type holds in JSON, and how it is read and written.
bool read_value(const Json& v, std::string& out) {
  if (!v.is_string()) return false;
  out = v.get<std::string>();
  return true;
}
bool read_value(const Json& v, double& out) {
  if (!v.is_number()) return false;
  out = v.get<double>();
  return true;
}
bool read_value(const Json& v, std::int64_t& out) {
  if (!v.is_number_integer()) return false;
  out = v.get<std::int64_t>();
  return true;
}
bool read_value(const Json& v, bool& out) {
  if (!v.is_boolean()) return false;
  out = v.get<bool>();
  return true;
}
bool read_value(const Json& v, std::optional<double>& out) {
  if (v.is_null()) {
    out.reset();
    return true;
  }
  double d = 0;
  if (!read_value(v, d)) return false;
  out = d;
  return true;
}
bool read_value(const Json& v, Json& out) {
  out = v;
  return true;
}
bool read_value(const Json& v, nn::Schedule& out) {
  if (!v.is_string()) return false;
  out = nn::Schedule::parse(v.get<std::string>());  // a malformed form throws, naming the part
  return true;
}

Json write_value(const nn::Schedule& s) { return s.text; }
Json write_value(const std::optional<double>& v) { return v ? Json(*v) : Json(nullptr); }
template <class T>
Json write_value(const T& v) {
  return Json(v);
}

std::string number_text(double x) {
  std::ostringstream s;
  s << x;
  return s.str();
}

std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (const auto& w : words) text += (text.empty() ? "" : ", ") + (w.empty() ? "\"\"" : w);
  return text;
}

template <class T>
std::string wanted(const Rule& rule) {
  const std::string bounds = "[" + number_text(rule.lo) + ", " + number_text(rule.hi) + "]";
  if constexpr (std::is_same_v<T, double>) return "a number in " + bounds;
  if constexpr (std::is_same_v<T, std::int64_t>) {
    // A bound past int64's range (the seed's) is printed as int64's largest value.
    constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
    auto integer = [](double x) {
      return x >= static_cast<double>(kMax) ? kMax : static_cast<std::int64_t>(x);
    };
    return "an integer in [" + std::to_string(integer(rule.lo)) + ", " +
           std::to_string(integer(rule.hi)) + "]";
  }
  if constexpr (std::is_same_v<T, std::optional<double>>) return "null or a number";
  if constexpr (std::is_same_v<T, bool>) return "true or false";
  if constexpr (std::is_same_v<T, nn::Schedule>) return "a schedule";
  if constexpr (std::is_same_v<T, std::string>) {
    return rule.one_of.empty() ? "a string" : "one of " + joined(rule.one_of);
  }
  return rule.want.empty() ? "JSON" : rule.want;
}

bool allowed(const Rule& rule, double v) { return v >= rule.lo && v <= rule.hi; }
bool allowed(const Rule& rule, std::int64_t v) { return allowed(rule, static_cast<double>(v)); }
bool allowed(const Rule& rule, const std::string& v) {
  return rule.one_of.empty() ||
         std::find(rule.one_of.begin(), rule.one_of.end(), v) != rule.one_of.end();
}
bool allowed(const Rule& rule, const std::optional<double>& v) { return !v || allowed(rule, *v); }
template <class T>
bool allowed(const Rule& /*rule*/, const T& /*v*/) {
  return true;
}

// Reads the keys present in a JSON config into a TrainConfig, checking each against its rule.
class KeyReader {
 public:
  KeyReader(const Json& config, std::string origin) : config_(config), origin_(std::move(origin)) {}

  template <class T>
  void operator()(const std::string& key, T& field, const Rule& rule, const char* /*meaning*/) {
    const Json* v = find_dotted(config_, key);
    if (v == nullptr) return;
    bool ok = false;
    try {
      ok = read_value(*v, field) && allowed(rule, field);
      if (ok && rule.check) rule.check(*v, origin_ + ": '" + key);
    } catch (const ConfigError&) {
      throw;
    } catch (const Error& e) {
      throw ConfigError(origin_ + ": '" + key + "': " + e.what());
    }
    if (!ok) {
      throw ConfigError(origin_ + ": '" + key + "' must be " + wanted<T>(rule) + ", got " +
                        v->dump());
    }
  }

 private:
  const Json& config_;
  std::string origin_;
};

std::string keys_of(const Json& object) {
  std::string keys;
  for (const auto& [key, value] : object.items()) keys += (keys.empty() ? "" : ", ") + key;
  return keys;
}

void merge_at(Json& config, const Json& overlay, const std::string& origin,
              const std::string& prefix) {
  if (!overlay.is_object()) {
    throw ConfigError(origin + ": '" + prefix + "' must be an object with keys " + keys_of(config));
  }
  for (const auto& [key, value] : overlay.items()) {
    const std::string dotted = prefix.empty() ? key : prefix + "." + key;
    if (!config.contains(key)) {
      throw ConfigError(origin + ": unknown key '" + dotted + "'; allowed" +
                        (prefix.empty() ? "" : " in '" + prefix + "'") + ": " + keys_of(config));
    }
    Json& target = config[key];
    // A string for an object with a "type" names that type: "loss": "mean_squared_error".
    if (target.is_object() && target.contains("type") && value.is_string()) {
      merge_at(target, Json{{"type", value}}, origin, dotted);
    } else if (target.is_object() && !target.empty()) {
      merge_at(target, value, origin, dotted);
    } else {
      target = value;
    }
  }
}

bool is_validation_metric(const std::string& metric) { return metric.rfind("val_", 0) == 0; }

// The rules between keys, once every value is known to be allowed on its own.
void check_together(const TrainConfig& c, const std::string& origin, ModelOutput output) {
  if (c.micro_batch_size > 0 && c.batch_size % c.micro_batch_size != 0) {
    throw ConfigError(origin + ": 'micro_batch_size' " + std::to_string(c.micro_batch_size) +
                      " does not divide 'batch_size' " + std::to_string(c.batch_size) +
                      "; use a divisor, e.g. batch_size / ranks");
  }
  if (c.optimizer.weight_decay > 0 && !nn::takes_weight_decay(c.optimizer.type)) {
    throw ConfigError(origin + ": 'optimizer.weight_decay' applies to sgd and adamw, not " +
                      c.optimizer.type +
                      (c.optimizer.type == "adam" ? "; use \"type\": \"adamw\"" : "") +
                      "; remove it or change 'optimizer.type'");
  }
  if (!c.optimizer.no_decay.empty() && !nn::takes_weight_decay(c.optimizer.type)) {
    throw ConfigError(origin +
                      ": 'optimizer.no_decay' exempts parameters from weight decay, which " +
                      c.optimizer.type + " has none of; remove it or use sgd or adamw");
  }
  if (c.data.train.empty()) {
    throw ConfigError(origin +
                      ": no training data; give it as the first argument or as "
                      "'data.train'");
  }
  if (c.data.validation_split > 0 && !c.data.validation.empty()) {
    throw ConfigError(origin +
                      ": 'data.validation' and 'data.validation_split' are both set; use one");
  }
  if (c.data.folds == 1 || c.data.fold > c.data.folds) {
    throw ConfigError(origin + ": 'data.folds' " + std::to_string(c.data.folds) +
                      " and 'data.fold' " + std::to_string(c.data.fold) +
                      ": give folds >= 2, and a fold from 1 to folds (or 0: every fold)");
  }
  if (c.data.folds > 0 && (c.data.validation_split > 0 || !c.data.validation.empty())) {
    throw ConfigError(origin +
                      ": 'data.folds' holds out a fold as validation data; leave out "
                      "'data.validation' and 'data.validation_split'");
  }
  if (output == ModelOutput::kRequired && c.output_path().empty()) {
    throw ConfigError(origin +
                      ": nowhere to write the model; give -o FILE, --run-dir DIR, or 'output'");
  }
  if (c.diagnostics > 0 && c.run_dir.empty()) {
    throw ConfigError(origin +
                      ": 'diagnostics' writes diagnostics.csv into the run directory: give "
                      "--run-dir DIR");
  }
  if (c.checkpoint_every > 0 && c.checkpoint_path().empty()) {
    throw ConfigError(origin +
                      ": 'checkpoint_every' needs a checkpoint to write: give --run-dir DIR or "
                      "--checkpoint FILE");
  }
  const bool validation =
      !c.data.validation.empty() || c.data.validation_split > 0 || c.data.folds > 0;
  const std::pair<const char*, const std::string*> monitors[] = {
      {"callbacks.monitor", &c.callbacks.monitor},
      {"callbacks.early_stopping.monitor", &c.callbacks.early_stopping.monitor},
      {"callbacks.reduce_lr.monitor", &c.callbacks.reduce_lr.monitor}};
  for (const auto& [key, metric] : monitors) {
    if (!validation && is_validation_metric(*metric)) {
      throw ConfigError(origin + ": '" + key + "' is " + *metric +
                        ", which needs validation data: set 'data.validation' (--validation "
                        "FILE) or 'data.validation_split' (--validation-split F)");
    }
  }
}

}  // namespace

std::string TrainConfig::output_path() const {
  if (!output.empty() || run_dir.empty()) return output;
  return io::RunDirectory(run_dir).model();
}

std::string TrainConfig::checkpoint_path() const {
  if (!checkpoint.empty() || run_dir.empty()) return checkpoint;
  return io::RunDirectory(run_dir).checkpoint();
}

std::string TrainConfig::csv_log_path() const {
  if (!log_csv.empty() || run_dir.empty()) return log_csv;
  return io::RunDirectory(run_dir).log();
}

std::string TrainConfig::best_path() const {
  if (run_dir.empty() || !callbacks.save_best) return "";
  return io::RunDirectory(run_dir).best_model();
}

Json TrainConfig::optimizer_config() const {
  Json j = {{"type", optimizer.type}, {"clip_norm", optimizer.clip_norm}};
  if (optimizer.type == "sgd") {
    j["momentum"] = optimizer.momentum;
    j["nesterov"] = optimizer.nesterov;
  }
  if (optimizer.type == "sgd" && optimizer.weight_decay > 0)
    j["weight_decay"] = optimizer.weight_decay;
  if (optimizer.type == "adamw")
    j["weight_decay"] = optimizer.weight_decay > 0 ? optimizer.weight_decay : nn::kAdamWWeightDecay;
  return j;
}

const std::vector<ConfigKey>& train_config_keys() {
  static const std::vector<ConfigKey> keys = [] {
    std::vector<ConfigKey> list;
    const TrainConfig defaults;
    for_each_key(defaults, [&](const std::string& key, const auto& field, const Rule& rule,
                               const char* meaning) {
      using T = std::decay_t<decltype(field)>;
      list.push_back({key, wanted<T>(rule), meaning, write_value(field)});
    });
    return list;
  }();
  return keys;
}

Json to_json(const TrainConfig& config) {
  Json j = Json::object();
  for_each_key(config, [&](const std::string& key, const auto& field, const Rule& /*rule*/,
                           const char* /*meaning*/) { at_dotted(j, key) = write_value(field); });
  return j;
}

Json default_train_config() { return to_json(TrainConfig{}); }

Json load_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open the config file");
  std::stringstream text;
  text << in.rdbuf();
  try {
    Json config = Json::parse(text.str(), nullptr, true, /*ignore_comments=*/true);
    if (!config.is_object()) throw Error(path + ": a config must be a JSON object {...}");
    return config;
  } catch (const Json::exception& e) {  // parse errors, and numbers out of range (fuzzing)
    throw Error(path + ": not valid JSON: " + e.what());
  }
}

void merge_config(Json& config, const Json& overlay, const std::string& origin) {
  merge_at(config, overlay, origin, "");
  TrainConfig scratch;
  for_each_key(scratch, KeyReader(overlay, origin));
}

void apply_assignment(Json& config, const std::string& assignment) {
  try {
    (void)Json(assignment).dump();  // JSON is UTF-8: messages that show keys and values need it
  } catch (const Json::type_error&) {
    throw ConfigError("--set: the assignment is not valid UTF-8 text");
  }
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw ConfigError("--set " + assignment +
                      ": expected key=value, e.g. --set optimizer.lr=0.001");
  }
  const std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  Json value;
  try {
    value = Json::parse(text);
  } catch (const Json::exception&) {  // not JSON (or a number out of range)
    value = text;                     // a bare word: a string
  }
  // Build {"a": {"b": value}} from "a.b" and merge it, so unknown keys are caught the same way.
  Json overlay;
  at_dotted(overlay, key) = std::move(value);
  // The origin on one line, whatever the value's layout.
  std::string shown = "--set " + assignment;
  for (char& ch : shown) {
    if (ch == '\n' || ch == '\t' || ch == '\r') ch = ' ';
  }
  merge_config(config, overlay, shown);
}

TrainConfig train_config_from_json(const Json& config, const std::string& origin,
                                   ModelOutput output) {
  TrainConfig c;
  for_each_key(c, KeyReader(config, origin));
  check_together(c, origin, output);
  return c;
}

void write_run_config(const std::string& run_dir, const Json& config) {
  const std::string path = io::RunDirectory(run_dir).config();
  io::write_file_atomically(path, config.dump(2) + "\n", "the run's config");
}

}  // namespace kiln::pipeline
