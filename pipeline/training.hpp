// train_model: the whole of `kiln train` as a library call: open the data, build the stages,
// the model and the optimizer, run the trainer with per-epoch validation, save the model file
// with its preprocessing (normalization + eval stages, DESIGN contract 2).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "nn/json.hpp"
#include "nn/trainer.hpp"

namespace kiln::pipeline {

struct TrainRequest {
  std::string train_path;               // kiln HDF5 dataset
  std::string validation_path;          // optional: evaluated after every epoch
  std::string output_path;              // model file, written atomically
  std::string model = "mlp";            // built-in model name (nn/zoo.hpp)
  Json model_options = Json::object();  // e.g. {"width": 0.25} for alexnet and vgg16
  std::int64_t epochs = 5;
  std::int64_t batch_size = 128;
  float learning_rate = 0.01f;
  Json optimizer = {{"type", "sgd"}, {"momentum", 0.9}};  // nn::make_optimizer's config
  std::uint64_t seed = 1;
  int threads = 0;                       // 0: all cores
  Json train_stages = Json::array();     // e.g. [{"type": "horizontal_flip", "p": 0.5}]
  std::int64_t limit = 0;                // > 0: train on the first `limit` samples only
  std::string lr_schedule = "constant";  // nn/schedule.hpp text form
  std::string monitor;  // metric for the callbacks below; "": val_loss with validation, else loss
  std::int64_t early_stopping_patience =
      -1;  // >= 0: stop after this many epochs without improvement
  bool restore_best_weights = false;
  std::int64_t reduce_lr_patience =
      -1;                       // >= 0: rate x 0.1 after this many epochs without improvement
  std::string csv_log;          // "": no CSV log
  std::string checkpoint_path;  // "": none; else the whole training state, saved after every epoch
  std::string resume_path;  // "": fresh start; else continue from this checkpoint up to `epochs`
};

struct EpochReport {
  nn::EpochLogs train;
  std::optional<nn::EvalResult> validation;
  std::int64_t epochs = 0;  // planned
};

struct TrainObserver {
  std::function<void(const std::string& model_summary)> on_start;
  std::function<void(const EpochReport&)> on_epoch;
};

struct TrainResult {
  nn::EpochLogs last_epoch;
  std::optional<nn::EvalResult> validation;
};

// Throws kiln::Error for bad options, unreadable data or a diverging loss; the output file is
// written only when training completes.
TrainResult train_model(const TrainRequest& request, const TrainObserver& observer = {});

}  // namespace kiln::pipeline
