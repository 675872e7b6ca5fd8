// kiln train: a config (defaults ← --resume RUN_DIR's config ← --config FILE ← flags ← --set)
// → a trained model file, and with a run directory: config.json, log.csv, plots, checkpoint.h5.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

#include "apps/shared/commands.hpp"
#include "apps/shared/config_flags.hpp"
#include "apps/shared/stage_list.hpp"
#include "apps/shared/train_options.hpp"
#include "apps/shared/validators.hpp"
#include "apps/shared/world.hpp"
#include "io/run_files/run_directory.hpp"
#include "nn/error.hpp"
#include "nn/layers/registry.hpp"
#include "nn/model/blocks.hpp"
#include "pipeline/training/cross_validation.hpp"
#include "pipeline/training/train_config.hpp"
#include "pipeline/training/training.hpp"
#include "pipeline/transforms/registry.hpp"

namespace kiln::apps {

namespace {

// One line per epoch; on a terminal, a progress bar redrawn in place while the epoch runs. Not
// under mpirun: OpenMPI hands rank 0 a pseudo-terminal even when the job's output goes to a log
// file, which would fill with redrawn bars.
class Progress {
 public:
  Progress() : terminal_(::isatty(STDOUT_FILENO) == 1 && world_size() == 1) {}

  void batch(const pipeline::BatchProgress& p) {
    if (!terminal_) return;
    const auto now = std::chrono::steady_clock::now();
    if (p.batch + 1 < p.batches && now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    const int width = 24;
    const auto done =
        static_cast<int>(width * (p.batch + 1) / std::max<std::int64_t>(1, p.batches));
    std::string bar(static_cast<std::size_t>(done), '=');
    if (done < width) bar += '>' + std::string(static_cast<std::size_t>(width - done - 1), ' ');
    std::printf("\repoch %lld/%lld [%s] %lld/%lld  %.0f img/s  loss %.4f  ETA %.0f s \x1b[K",
                static_cast<long long>(p.epoch), static_cast<long long>(p.epochs), bar.c_str(),
                static_cast<long long>(p.batch + 1), static_cast<long long>(p.batches),
                p.images_per_second, p.loss, p.eta_seconds);
    std::fflush(stdout);
  }

  // Clears the progress bar, so a line printed next starts at the left edge.
  void clear_line() const {
    if (terminal_) std::printf("\r\x1b[K");
    std::fflush(stdout);
  }

  void epoch(const pipeline::EpochReport& r) const {
    clear_line();
    // The task's score: accuracy (multi_label: every class right), or regression's MAE.
    const bool regression = r.train.task == nn::Task::kRegression;
    const bool top5 = r.train.classes > 5 && r.train.task == nn::Task::kClassification;
    const char* score = regression ? "mae" : "acc";
    std::printf("epoch %lld/%lld  loss %.4f  %s %.4f", static_cast<long long>(r.train.epoch),
                static_cast<long long>(r.epochs), r.train.loss, score,
                regression ? r.train.mae : r.train.accuracy);
    if (top5) std::printf("  top5 %.4f", r.train.top5);
    if (r.validation) {
      std::printf("  val_loss %.4f  val_%s %.4f", r.validation->loss, score,
                  regression ? r.validation->mae : r.validation->accuracy);
      if (top5) std::printf("  val_top5 %.4f", r.validation->top5);
    }
    std::printf("  lr %.4g  %.1f s  %.0f img/s\n", static_cast<double>(r.train.learning_rate),
                r.train.seconds,
                r.train.seconds > 0 ? static_cast<double>(r.train.samples) / r.train.seconds : 0.0);
    std::fflush(stdout);
  }

 private:
  bool terminal_;
  std::chrono::steady_clock::time_point last_{};
};

void report_skipped(const std::vector<io::SkippedInput>& skipped) {
  if (skipped.empty()) return;
  std::fprintf(stderr, "kiln train: left out %zu unreadable input(s) of the folder(s):\n",
               skipped.size());
  for (const auto& k : skipped)
    std::fprintf(stderr, "  %s: %s\n", k.path.c_str(), k.reason.c_str());
}

// The sanity check's verdict: a failure is a failed run (exit 1) naming the likely causes.
void report_overfit(const pipeline::TrainConfig& config, const nn::EpochLogs& last) {
  if (last.accuracy < 1.0) {
    throw Error("overfit check FAILED: " + std::to_string(config.overfit) +
                " samples, training accuracy " + std::to_string(last.accuracy) + " and loss " +
                std::to_string(last.loss) + " after " + std::to_string(last.epoch) +
                " epochs; raise --epochs or --lr, else the model or the labels are wired wrong");
  }
  std::printf(
      "overfit check passed: %lld samples at 100%% training accuracy after %lld epochs, "
      "loss %.4f\n",
      static_cast<long long>(config.overfit), static_cast<long long>(last.epoch), last.loss);
}

// Prints what a run shows: staging, the model summary, the progress bar and a line per epoch.
pipeline::TrainObserver console_observer() {
  auto progress = std::make_shared<Progress>();
  pipeline::TrainObserver observer;
  observer.on_staging = [](const std::string& folder, std::int64_t done, std::int64_t total) {
    std::fprintf(stderr, "kiln train: reading %s: %lld/%lld images\n", folder.c_str(),
                 static_cast<long long>(done), static_cast<long long>(total));
  };
  observer.on_start = [](const std::string& summary) { std::printf("%s", summary.c_str()); };
  observer.on_warning = [progress](const std::string& warning) {
    progress->clear_line();
    std::fprintf(stderr, "kiln train: warning: %s\n", warning.c_str());
  };
  observer.on_batch = [progress](const pipeline::BatchProgress& p) { progress->batch(p); };
  observer.on_epoch = [progress](const pipeline::EpochReport& r) { progress->epoch(r); };
  return observer;
}

void print_fold_figures(const char* name, const pipeline::FoldResult& f) {
  std::printf("%-6s val_loss %.4f  val_acc %.4f", name, f.val_loss, f.val_accuracy);
  if (!std::isnan(f.val_top5)) std::printf("  val_top5 %.4f", f.val_top5);
  std::printf("\n");
}

// kiln train --folds K: one run per fold in RUN_DIR/fold-i, then the figures of each and their
// mean and standard deviation. --resume RUN_DIR keeps finished folds and resumes the others.
void run_cross_validation(const TrainCommandLine& x, const Json& json,
                          const pipeline::TrainConfig& config) {
  const bool resume = !x.resume.empty();
  if (resume && !std::filesystem::is_directory(x.resume)) {
    throw ConfigError("--resume " + x.resume +
                      ": cross-validation resumes a run directory (its fold-i folders), not a "
                      "checkpoint file");
  }
  pipeline::write_run_config(config.run_dir, json);
  pipeline::CrossValidationOptions options;
  options.resume = resume;
  options.stop_after_epoch = x.stop_after;
  options.on_fold = [&](std::int64_t fold, const pipeline::TrainConfig& fold_config) {
    std::printf("fold %lld/%lld: %s\n", static_cast<long long>(fold),
                static_cast<long long>(config.data.folds), fold_config.run_dir.c_str());
    Json fold_json = json;
    fold_json["data"]["fold"] = fold;
    fold_json["run_dir"] = fold_config.run_dir;
    pipeline::write_run_config(fold_config.run_dir, fold_json);
  };
  const pipeline::CrossValidationResult r =
      pipeline::cross_validate(config, console_observer(), options);
  std::printf("%lld-fold cross-validation after %lld epochs:\n",
              static_cast<long long>(config.data.folds), static_cast<long long>(r.mean.epochs));
  for (const pipeline::FoldResult& f : r.folds) {
    print_fold_figures(("fold " + std::to_string(f.fold)).c_str(), f);
  }
  print_fold_figures("mean", r.mean);
  print_fold_figures("std", r.std);
  const std::string cv_csv = io::RunDirectory(config.run_dir).cross_validation();
  if (r.paused) {
    std::printf("paused after epoch %lld of %lld; continue with: kiln train --resume %s\n",
                static_cast<long long>(x.stop_after), static_cast<long long>(config.epochs),
                config.run_dir.c_str());
  }
  std::printf("wrote %s\n", cv_csv.c_str());
}

void run_train(const TrainCommandLine& x, const ConfigFlags& flags) {
  const std::optional<CommandConfig> read =
      command_config(x, flags, pipeline::ModelOutput::kRequired);
  if (!read) return;
  const Json& json = read->json;
  const pipeline::TrainConfig& config = read->config;
  if (config.data.folds > 0 && config.data.fold == 0) {
    require_one_process("kiln train --folds");
    run_cross_validation(x, json, config);
    return;
  }
  std::string resume_from;
  if (!x.resume.empty()) {
    resume_from = std::filesystem::is_directory(x.resume) ? io::RunDirectory(x.resume).checkpoint()
                                                          : x.resume;
  }
  pipeline::TrainObserver observer =
      world_rank() == 0 ? console_observer() : pipeline::TrainObserver{};
  // The run's config is recorded once every check has passed, so a refused --resume (another
  // batch size, an epoch count already reached) leaves the run directory as it was.
  if (world_rank() == 0) {
    observer.on_start = [&config, &json](const std::string& summary) {
      if (!config.run_dir.empty()) pipeline::write_run_config(config.run_dir, json);
      std::printf("%s", summary.c_str());
      if (world_size() > 1) {
        const long long micro =
            config.micro_batch_size > 0 ? config.micro_batch_size : config.batch_size;
        const long long per_step = config.batch_size / micro;
        std::printf(
            "Data-parallel on %d MPI ranks: steps of %lld samples in micro-batches of %lld\n",
            world_size(), static_cast<long long>(config.batch_size), micro);
        if (per_step < world_size()) {
          std::fprintf(stderr,
                       "kiln train: warning: %lld micro-batch(es) per step for %d ranks: %lld "
                       "rank(s) wait idle; set --micro-batch-size %lld\n",
                       per_step, world_size(), world_size() - per_step,
                       std::max(1LL, static_cast<long long>(config.batch_size) / world_size()));
        }
      }
    };
  }
  const pipeline::TrainResult result =
      pipeline::train_model(config, observer, resume_from, x.stop_after, world());
  report_skipped(result.skipped);
  if (result.paused) {
    std::printf("paused after epoch %lld of %lld; continue with: kiln train --resume %s\n",
                static_cast<long long>(x.stop_after), static_cast<long long>(config.epochs),
                config.run_dir.empty() ? config.checkpoint_path().c_str() : config.run_dir.c_str());
    return;
  }
  std::printf("wrote %s\n", config.output_path().c_str());
  if (world_size() > 1) {
    const nn::StepTimes& t = result.step_times;
    std::printf(
        "rank 0: %lld steps, %.2f s computing micro-batches, %.2f s in the gradient "
        "reduction (%.2f ms per step)\n",
        static_cast<long long>(t.steps), t.compute_seconds, t.communication_seconds,
        t.steps > 0 ? 1e3 * t.communication_seconds / static_cast<double>(t.steps) : 0.0);
  }
  if (config.overfit > 0) report_overfit(config, result.last_epoch);
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto x = std::make_shared<TrainCommandLine>();
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Train a model on a kiln HDF5 dataset with streaming augmentation; write a model file (and "
      "with --run-dir: config, log, plots and checkpoints).");
  auto flags = add_config_options(cmd, *x);
  cmd->add_option("--early-stopping", x->early_stopping,
                  "Stop after this many epochs without improvement of --monitor")
      ->check(CLI::Range(static_cast<std::int64_t>(0), static_cast<std::int64_t>(1) << 30));
  cmd->add_flag("--restore-best", x->restore_best,
                "With --early-stopping: keep the weights of the best epoch, not the last");
  cmd->add_option("--reduce-lr", x->reduce_lr,
                  "Multiply the rate by callbacks.reduce_lr.factor after this many epochs "
                  "without improvement")
      ->check(CLI::Range(static_cast<std::int64_t>(0), static_cast<std::int64_t>(1) << 30));
  cmd->add_option("--resume", x->resume,
                  "Continue a run directory (its config.json and checkpoint.h5) or a checkpoint "
                  "file up to --epochs: the same weights as if never interrupted")
      ->check(existing_path());
  cmd->add_option("--stop-after", x->stop_after,
                  "Pause after this epoch, with the checkpoint written; --resume continues to "
                  "--epochs exactly as one run would (training in pieces)")
      ->check(CLI::Range(static_cast<std::int64_t>(1), static_cast<std::int64_t>(1) << 30));
  std::string layers;
  for (const auto& type : nn::layer_types()) layers += (layers.empty() ? "" : ", ") + type;
  std::string blocks;
  for (const auto& type : nn::block_types()) blocks += (blocks.empty() ? "" : ", ") + type;
  cmd->footer("Layer types for model.layers: " + layers + "; blocks: " + blocks +
              ". Every config key: kiln train --keys.");
  cmd->callback([x, flags] { run_train(*x, *flags); });
}

}  // namespace kiln::apps
