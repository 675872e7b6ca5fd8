// train_model: the whole of `kiln train` as a library call: open the data, build the stages,
// the model and the optimizer, run the trainer with per-epoch validation, save the model file
// with its preprocessing (normalization + eval stages, docs/design.md contract 2).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "io/dataset_format.hpp"
#include "nn/distributed/communicator.hpp"
#include "nn/training/lr_finder.hpp"
#include "nn/training/trainer.hpp"
#include "pipeline/training/train_config.hpp"

namespace kiln::pipeline {

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
  // A layer the diagnostics find sick (config `diagnostics`): one line, once per layer and kind.
  std::function<void(const std::string&)> on_warning;
};

struct TrainResult {
  nn::EpochLogs last_epoch;
  bool paused = false;  // ended at `stop_after_epoch`, before config.epochs: no model file
  std::optional<nn::EvalResult> validation;
  std::vector<io::SkippedInput> skipped;  // folder inputs left out, with their reasons
  nn::StepTimes step_times;               // this rank's compute and communication time
};

// Trains as `config` says (its rules already checked by train_config_from_json); with
// `resume_from` (a checkpoint file), continues that run up to config.epochs, ending with the
// weights an uninterrupted run would have. With `stop_after_epoch` > 0, the run pauses after that
// epoch with its checkpoint written (training in pieces: successive halving continues the best
// trials this way). Throws kiln::ConfigError for a model or stage list that does not fit the
// data, kiln::Error for unreadable data or a diverging loss; the output file is written only when
// training completes.
// With `ranks` (MPI, io/runtime/mpi_world.hpp), every rank calls it with the same config: each trains on
// its share of every step, the result is that of one process, and rank 0 alone writes files.
TrainResult train_model(const TrainConfig& config, const TrainObserver& observer = {},
                        const std::string& resume_from = "", std::int64_t stop_after_epoch = 0,
                        nn::Communicator* ranks = nullptr);

// `kiln lr-find`: the learning-rate range test on the config's data, model (from its initial
// weights: the seed, a warm start or a fine-tuning source), optimizer and loss; the rate range
// and steps come from `options` (its seed is the config's). Writes lr_find.csv and lr_find.png
// into `output_folder`, nothing else.
nn::LrFindResult find_learning_rate(const TrainConfig& config, nn::LrFindOptions options,
                                    const std::string& output_folder,
                                    const TrainObserver& observer = {});

}  // namespace kiln::pipeline
