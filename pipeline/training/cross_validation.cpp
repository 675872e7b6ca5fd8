#include "pipeline/training/cross_validation.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>

#include "io/atomic_file.hpp"
#include "io/model_file.hpp"
#include "io/run_files/csv_log.hpp"
#include "io/run_files/run_directory.hpp"
#include "nn/error.hpp"

namespace kiln::pipeline {
namespace {

// How many epochs a fold's run directory holds: all of them once its model file is written,
// else its checkpoint's, else none.
std::int64_t epochs_done(const TrainConfig& fold) {
  namespace fs = std::filesystem;
  if (fs::exists(fold.output_path())) return fold.epochs;
  if (fs::exists(fold.checkpoint_path())) {
    return io::load_model(fold.checkpoint_path()).train_state.epoch;
  }
  return 0;
}

// The fold's validation figures at `epoch`, read back from its log.
FoldResult fold_figures(const TrainConfig& fold, std::int64_t epoch) {
  const io::LogTable log = io::read_csv_log(fold.csv_log_path());
  if (log.row_of_epoch(epoch) == nullptr) {
    throw Error(fold.csv_log_path() + ": no row for epoch " + std::to_string(epoch) +
                "; train the fold again without --resume");
  }
  return {fold.data.fold, epoch, log.at_epoch(epoch, "val_loss"),
          log.at_epoch(epoch, "val_accuracy"), log.at_epoch(epoch, "val_top5")};
}

// The run of fold i: that fold held out, in its own run directory.
TrainConfig fold_config(const TrainConfig& config, std::int64_t i) {
  TrainConfig fold = config;
  fold.data.fold = i;
  fold.run_dir = fold_run_dir(config.run_dir, i);
  return fold;
}

void summarize(CrossValidationResult& r) {
  const auto n = static_cast<double>(r.folds.size());
  auto mean_and_std = [&](double FoldResult::*field, double& mean, double& std) {
    double sum = 0.0;
    for (const FoldResult& f : r.folds) sum += f.*field;
    mean = sum / n;
    double squares = 0.0;
    for (const FoldResult& f : r.folds) squares += (f.*field - mean) * (f.*field - mean);
    std = n > 1 ? std::sqrt(squares / (n - 1)) : 0.0;
  };
  mean_and_std(&FoldResult::val_loss, r.mean.val_loss, r.std.val_loss);
  mean_and_std(&FoldResult::val_accuracy, r.mean.val_accuracy, r.std.val_accuracy);
  mean_and_std(&FoldResult::val_top5, r.mean.val_top5, r.std.val_top5);
  r.mean.epochs = r.std.epochs = r.folds.empty() ? 0 : r.folds.front().epochs;
}

std::string cell(double v) {
  if (std::isnan(v)) return "";
  char text[32];
  std::snprintf(text, sizeof text, "%.6f", v);
  return text;
}

void write_cv_csv(const std::string& path, const CrossValidationResult& r) {
  std::string text = "fold,epochs,val_loss,val_accuracy,val_top5\n";
  auto row = [&](const std::string& name, const FoldResult& f) {
    text += name + "," + std::to_string(f.epochs) + "," + cell(f.val_loss) + "," +
            cell(f.val_accuracy) + "," + cell(f.val_top5) + "\n";
  };
  for (const FoldResult& f : r.folds) row(std::to_string(f.fold), f);
  row("mean", r.mean);
  row("std", r.std);
  io::write_file_atomically(path, text, "the cross-validation figures");
}

}  // namespace

std::string fold_run_dir(const std::string& run_dir, std::int64_t fold) {
  return (std::filesystem::path(run_dir) / ("fold-" + std::to_string(fold))).string();
}

CrossValidationResult read_cross_validation(const TrainConfig& config, std::int64_t epoch) {
  CrossValidationResult result;
  for (std::int64_t i = 1; i <= config.data.folds; ++i) {
    result.folds.push_back(fold_figures(fold_config(config, i), epoch));
  }
  summarize(result);
  return result;
}

CrossValidationResult cross_validate(const TrainConfig& config, const TrainObserver& observer,
                                     const CrossValidationOptions& options) {
  if (config.data.folds < 2 || config.data.fold != 0) {
    throw ConfigError("cross-validation runs every fold: data.folds >= 2 and data.fold 0");
  }
  if (config.run_dir.empty() || !config.output.empty() || !config.checkpoint.empty() ||
      !config.log_csv.empty()) {
    throw ConfigError(
        "--folds trains each fold in RUN_DIR/fold-i: give --run-dir, and leave out output, "
        "checkpoint and log_csv");
  }
  const std::string cv_csv = io::RunDirectory(config.run_dir).cross_validation();
  io::check_output_file(cv_csv);
  const std::int64_t target = options.stop_after_epoch > 0
                                  ? std::min(options.stop_after_epoch, config.epochs)
                                  : config.epochs;
  CrossValidationResult result;
  result.paused = target < config.epochs;
  for (std::int64_t i = 1; i <= config.data.folds; ++i) {
    const TrainConfig fold = fold_config(config, i);
    const std::int64_t done = options.resume ? epochs_done(fold) : 0;
    if (done < target) {
      if (options.on_fold) options.on_fold(i, fold);
      const std::string resume_from = done > 0 ? fold.checkpoint_path() : "";
      train_model(fold, observer, resume_from, result.paused ? target : 0);
    }
    result.folds.push_back(fold_figures(fold, target));
  }
  summarize(result);
  write_cv_csv(cv_csv, result);
  return result;
}

}  // namespace kiln::pipeline
