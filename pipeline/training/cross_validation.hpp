// cross_validate: k-fold cross-validation as `kiln train --folds K` runs it. One run per fold, each
// in its own run directory (RUN_DIR/fold-1 ... fold-K), fold i held out as its validation data
// (TrainConfig::Data::folds); then each fold's validation figures, their mean and standard
// deviation, in RUN_DIR/cv.csv.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pipeline/training/train_config.hpp"
#include "pipeline/training/training.hpp"

namespace kiln::pipeline {

struct FoldResult {
  std::int64_t fold = 0;                                      // 1-based
  std::int64_t epochs = 0;                                    // the epoch whose figures these are
  double val_loss = 0.0, val_accuracy = 0.0, val_top5 = 0.0;  // top-5: NaN with <= 5 classes
};

struct CrossValidationResult {
  std::vector<FoldResult> folds;
  FoldResult mean, std;  // over the folds (standard deviation with n - 1)
  bool paused = false;   // every fold stopped at `stop_after_epoch`, before config.epochs
};

struct CrossValidationOptions {
  // Continue: a fold whose run is complete is kept, one with a checkpoint is resumed from it.
  // Otherwise every fold is trained from the start.
  bool resume = false;
  std::int64_t stop_after_epoch = 0;  // > 0: each fold pauses there (train_model)
  // Before each fold's run: its number and config (its run_dir is RUN_DIR/fold-i); not called
  // for a fold that is already as far as asked.
  std::function<void(std::int64_t fold, const TrainConfig&)> on_fold;
};

// The folder of fold `fold` (1-based) of a cross-validation run directory.
std::string fold_run_dir(const std::string& run_dir, std::int64_t fold);

// The figures of every fold of a cross-validation run directory at `epoch`, read back from the
// folds' logs. Throws kiln::Error naming a log without that epoch.
CrossValidationResult read_cross_validation(const TrainConfig& config, std::int64_t epoch);

// `config` has data.folds = K >= 2 and data.fold = 0 (every fold) and a run_dir, and no explicit
// output, checkpoint or log_csv (each fold's go in its own folder). Writes RUN_DIR/cv.csv.
CrossValidationResult cross_validate(const TrainConfig& config, const TrainObserver& observer,
                                     const CrossValidationOptions& options = {});

}  // namespace kiln::pipeline
