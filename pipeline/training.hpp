// train_model: the whole of `kiln train` as a library call: open the data, build the stages,
// the model and the optimizer, run the trainer with per-epoch validation, save the model file
// with its preprocessing (normalization + eval stages, DESIGN contract 2).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "io/dataset_format.hpp"
#include "nn/callbacks/early_stopping.hpp"
#include "nn/callbacks/reduce_on_plateau.hpp"
#include "nn/json.hpp"
#include "nn/trainer.hpp"

namespace kiln::pipeline {

struct TrainRequest {
  // A kiln HDF5 dataset, or a folder of class folders (staged in a temporary file for the run).
  std::string train_path;
  std::string validation_path;  // optional, file or folder: evaluated after every epoch
  // In (0, 1): hold out this fraction of train_path instead, stratified per class and fixed by
  // the seed: the same images every epoch, never augmented, never trained on.
  double validation_split = 0.0;
  std::string output_path;              // model file, written atomically
  std::string model = "mlp";            // built-in model name (nn/zoo.hpp)
  Json model_options = Json::object();  // e.g. {"width": 0.25} for alexnet and vgg16
  // A layer list ("model.layers": [{"type": "conv2d", ...}, ...]) used instead of the built-in
  // model; its input is the data's, and its last layer must give one output per class.
  Json model_layers = nullptr;
  std::int64_t epochs = 5;
  std::int64_t batch_size = 128;
  float learning_rate = 0.01f;
  Json optimizer = {{"type", "sgd"}, {"momentum", 0.9}};  // nn::make_optimizer's config
  std::uint64_t seed = 1;
  int threads = 0;                        // 0: all cores
  std::string normalization = "channel";  // channel | mean_image | zca (pipeline/normalize.hpp)
  Json train_stages = Json::array();      // e.g. [{"type": "horizontal_flip", "p": 0.5}]
  // Evaluation stages (their eval() forms run for validation, evaluate and predict); null: the
  // eval forms of train_stages, so test data sees what training saw.
  Json eval_stages = nullptr;
  std::int64_t limit = 0;                // > 0: train on the first `limit` samples only
  std::string lr_schedule = "constant";  // nn/schedule.hpp text form
  // The callbacks' metric when their own monitor is empty: "" means val_loss with validation data,
  // else loss.
  std::string monitor;
  std::optional<nn::EarlyStoppingOptions> early_stopping;  // none: off
  std::optional<nn::ReduceOnPlateauOptions> reduce_lr;     // none: off
  std::int64_t log_every_batches = 0;  // > 0 with a run directory: batches.csv, a row every N
  std::string csv_log;                 // "": no CSV log
  std::string checkpoint_path;  // "": none; else the whole training state, saved after every epoch
  std::string best_path;    // "": none; else the model of the best epoch by the monitored metric
  std::string resume_path;  // "": fresh start; else continue from this checkpoint up to `epochs`
  std::string run_dir;      // "": none; else plots (loss.png, accuracy.png, lr.png) go here
  // > 0: the sanity check: the first `overfit` samples, no augmentation, dropout or
  // regularization, plain SGD; stops once training accuracy reaches 100%.
  std::int64_t overfit = 0;
};

struct EpochReport {
  nn::EpochLogs train;
  std::optional<nn::EvalResult> validation;
  std::int64_t epochs = 0;  // planned
};

struct BatchProgress {
  std::int64_t epoch = 0, epochs = 0;   // 1-based epoch of this batch, planned epochs
  std::int64_t batch = 0, batches = 0;  // 0-based batch, batches per epoch
  double loss = 0.0;                    // of this batch
  double images_per_second = 0.0;       // so far in this epoch
  double eta_seconds = 0.0;             // to the end of the epoch, at that rate
};

struct TrainObserver {
  // A folder given as data is staged first: (what, images done, total), every few hundred images.
  std::function<void(const std::string&, std::int64_t, std::int64_t)> on_staging;
  std::function<void(const std::string& model_summary)> on_start;
  std::function<void(const BatchProgress&)> on_batch;
  std::function<void(const EpochReport&)> on_epoch;
};

struct TrainResult {
  nn::EpochLogs last_epoch;
  std::optional<nn::EvalResult> validation;
  std::vector<io::SkippedInput> skipped;  // folder inputs left out, with their reasons
};

// Throws kiln::Error for bad options, unreadable data or a diverging loss; the output file is
// written only when training completes.
TrainResult train_model(const TrainRequest& request, const TrainObserver& observer = {});

}  // namespace kiln::pipeline
