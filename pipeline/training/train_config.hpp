// TrainConfig: the whole config of a training run, typed. Each key is written once: its default
// is the member initializer below, its rule and its meaning are its one line in
// train_config.cpp's key table. Everything else reads them from there: JSON in and out, the
// checks, `kiln train --help` and the README's key table test.
//
// `kiln train` builds the JSON in layers — the defaults, a run directory's config.json, --config
// FILE, the flags, every --set key=value — checking each layer's keys as it is laid on, so a
// message names where the mistake came from (the file, the flag, the --set) and the key.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/callbacks/early_stopping.hpp"
#include "nn/callbacks/reduce_on_plateau.hpp"
#include "nn/json.hpp"
#include "nn/training/optimizer.hpp"
#include "nn/training/schedule.hpp"

namespace kiln::pipeline {

struct TrainConfig {
  struct Data {
    std::string train;       // kiln HDF5 file or folder of class folders
    std::string validation;  // optional: evaluated after every epoch
    double validation_split = 0.0;
    // k-fold cross-validation: with folds = K, fold `fold` (1..K) of a stratified, seeded
    // K-way split of the training file is the validation data; fold 0: every fold, one run each
    // (cross_validation.hpp).
    std::int64_t folds = 0;
    std::int64_t fold = 0;
    std::int64_t limit = 0;          // > 0: the first `limit` samples only
    std::string sampler = "random";  // or "balanced" (pipeline/epoch_order.hpp)
  };
  struct Model {
    std::string name = "mlp";  // a built-in model (nn/model/zoo.hpp)
    double width = 1.0;        // channel multiplier (nn::model_takes_width)
    Json layers = nullptr;     // a layer list used instead of the built-in model
    std::string init_from;     // a model file whose matching layers start the run
    std::string freeze;        // the last layer (by name) of the frozen ones
    // A model file to fine-tune: its architecture, weights and normalization, its dense output
    // layer resized to the data's classes (and then trained from scratch).
    std::string fine_tune;
  };
  struct Loss {
    std::string type;    // nn/loss.hpp; "": the task's (nn::default_loss)
    double delta = 1.0;  // huber
    double label_smoothing = 0.0;
    Json class_weights = nullptr;  // null: none; "auto": inverse frequency; or one per class
  };
  struct Optimizer {
    std::string type = "sgd";
    double lr = 0.01;
    double momentum = nn::kDefaultMomentum;  // sgd
    bool nesterov = false;                   // sgd
    double weight_decay = 0.0;               // sgd (L2), adamw (decoupled; 0: AdamW's 0.01)
    Json no_decay = Json::array();  // parameter kinds exempt (nn/training/weight_decay.hpp)
    double clip_norm = 0.0;
  };
  // The callbacks' own options and their defaults are nn's; the config adds whether each runs
  // and a monitor that may be left to callbacks.monitor.
  struct EarlyStopping {
    bool enabled = false;
    std::string monitor;  // "": callbacks.monitor
    nn::EarlyStoppingOptions options;
  };
  struct ReduceLr {
    bool enabled = false;
    std::string monitor;  // "": callbacks.monitor
    nn::ReduceOnPlateauOptions options;
  };
  struct Callbacks {
    std::string monitor;  // "": val_loss with validation data, else loss
    bool save_best = true;
    EarlyStopping early_stopping;
    ReduceLr reduce_lr;
  };

  Data data;
  Json augment = Json::array();  // training stages
  Json eval_augment = nullptr;   // null: the eval forms of `augment`
  std::string task;              // nn/task.hpp; "": the training dataset's
  std::string normalization = "channel";
  Model model;
  Loss loss;
  Optimizer optimizer;
  nn::Schedule schedule;  // JSON: its text form
  Callbacks callbacks;
  std::int64_t epochs = 5;
  std::int64_t batch_size = 128;
  std::int64_t micro_batch_size = 0;  // 0: batch_size
  std::int64_t seed = 1;
  std::int64_t threads = 0;           // 0: all cores
  std::string run_dir;                // config, logs, plots, checkpoint, model
  std::string output;                 // "": run_dir/model.h5
  std::string checkpoint;             // "": run_dir/checkpoint.h5 with a run directory, else none
  std::int64_t checkpoint_every = 0;  // steps; 0: at epoch ends only
  std::string log_csv;                // "": run_dir/log.csv with a run directory, else none
  std::int64_t log_every_batches = 0;
  std::int64_t diagnostics = 0;  // every N steps: diagnostics.csv/png in run_dir; 0: off
  std::int64_t overfit = 0;

  // The model file, checkpoint, CSV log and best-epoch model this run writes ("": none): the
  // explicit keys, else their places in run_dir.
  std::string output_path() const;
  std::string checkpoint_path() const;
  std::string csv_log_path() const;
  std::string best_path() const;
  // nn::make_optimizer's config for these options.
  Json optimizer_config() const;
};

// One key of the table: the dotted name, what a value must be, what it means, and its default.
struct ConfigKey {
  std::string key;
  std::string rule;     // e.g. "a number in [0, 0.9]", "one of sgd, adam, ..."
  std::string meaning;  // one line, used by --help
  Json default_value;
};

// Every key, in the order of the README's table.
const std::vector<ConfigKey>& train_config_keys();

Json to_json(const TrainConfig& config);
// to_json(TrainConfig{}): every key with its default.
Json default_train_config();

// Reads a JSON config file. Throws kiln::Error naming the file (and the line for a syntax error).
Json load_config_file(const std::string& path);

// Overlays `overlay` on `config`, key by key (objects recursively; lists and values replace), and
// checks every value it sets. Throws kiln::ConfigError naming `origin`, the dotted key and what is
// allowed there.
void merge_config(Json& config, const Json& overlay, const std::string& origin);

// Applies "dotted.key=value" (value: JSON, or else a plain string) as merge_config does, with the
// origin "--set dotted.key=value".
void apply_assignment(Json& config, const std::string& assignment);

// Whether the command writes a model: `kiln train` must have somewhere to (-o, --run-dir);
// `kiln lr-find` writes none.
enum class ModelOutput { kRequired, kNone };

// The typed config of a merged JSON config: every value and the rules between keys (training
// data given, somewhere to write the model, validation data for a val_ metric). Throws
// kiln::ConfigError naming `origin` and the key.
TrainConfig train_config_from_json(const Json& config, const std::string& origin,
                                   ModelOutput output = ModelOutput::kRequired);

// Writes the config into `run_dir`/config.json (creating the folder), atomically, so that
// `kiln train --resume RUN_DIR` and a reader of the run see exactly what ran.
void write_run_config(const std::string& run_dir, const Json& config);

}  // namespace kiln::pipeline
