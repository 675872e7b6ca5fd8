// kiln train: a config (defaults ← --resume RUN_DIR's config ← --config FILE ← flags ← --set)
// → a trained model file, and with a run directory: config.json, log.csv, plots, checkpoint.h5.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "apps/commands.hpp"
#include "apps/config_flags.hpp"
#include "apps/stage_list.hpp"
#include "apps/validators.hpp"
#include "nn/error.hpp"
#include "nn/optimizer.hpp"
#include "nn/zoo.hpp"
#include "pipeline/train_config.hpp"
#include "pipeline/training.hpp"

namespace kiln::apps {

namespace {

struct Extras {
  std::string data;
  std::string config_file;
  std::vector<std::string> assignments;
  bool print_config = false;
  std::string augment;
  float flip = 0.f;
  std::int64_t early_stopping = -1;
  std::int64_t reduce_lr = -1;
  bool restore_best = false;
  std::string resume;
};

// The layers of the effective config, in order; names the source of any bad key.
Json effective_config(const Extras& x, const ConfigFlags& flags) {
  namespace fs = std::filesystem;
  Json config = pipeline::default_train_config();
  if (!x.resume.empty() && fs::is_directory(x.resume)) {
    const std::string saved = (fs::path(x.resume) / "config.json").string();
    if (!fs::exists(saved)) {
      throw Error("--resume " + x.resume + ": no config.json; is it a kiln run directory?");
    }
    pipeline::merge_config(config, pipeline::load_config_file(saved), saved);
    config["run_dir"] = x.resume;
  }
  if (!x.config_file.empty()) {
    pipeline::merge_config(config, pipeline::load_config_file(x.config_file), x.config_file);
  }
  Json overlay = flags.overlay();
  if (!x.data.empty()) set_dotted(overlay, "data.train", x.data);
  if (!x.augment.empty()) set_dotted(overlay, "augment", parse_stage_list(x.augment, "--augment"));
  if (x.early_stopping >= 0) {
    set_dotted(overlay, "callbacks.early_stopping.enabled", true);
    set_dotted(overlay, "callbacks.early_stopping.patience", x.early_stopping);
  }
  if (x.restore_best) set_dotted(overlay, "callbacks.early_stopping.restore_best_weights", true);
  if (x.reduce_lr >= 0) {
    set_dotted(overlay, "callbacks.reduce_lr.enabled", true);
    set_dotted(overlay, "callbacks.reduce_lr.patience", x.reduce_lr);
  }
  pipeline::merge_config(config, overlay, "the command line");
  if (x.flip > 0.f) {
    if (!config["augment"].is_array()) throw Error("augment must be a JSON list of stages");
    config["augment"].push_back({{"type", "horizontal_flip"}, {"p", x.flip}});
  }
  for (const std::string& a : x.assignments) pipeline::apply_assignment(config, a);
  return config;
}

// One line per epoch; on a terminal, a progress bar redrawn in place while the epoch runs.
class Progress {
 public:
  Progress() : terminal_(::isatty(STDOUT_FILENO) == 1) {}

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

  void epoch(const pipeline::EpochReport& r) const {
    if (terminal_) std::printf("\r\x1b[K");
    std::printf("epoch %lld/%lld  loss %.4f  acc %.4f", static_cast<long long>(r.train.epoch),
                static_cast<long long>(r.epochs), r.train.loss, r.train.accuracy);
    if (r.train.classes > 5) std::printf("  top5 %.4f", r.train.top5);
    if (r.validation) {
      std::printf("  val_loss %.4f  val_acc %.4f", r.validation->loss, r.validation->accuracy);
      if (r.validation->classes > 5) std::printf("  val_top5 %.4f", r.validation->top5);
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

}  // namespace

void add_train_command(CLI::App& app) {
  auto x = std::make_shared<Extras>();
  auto flags = std::make_shared<ConfigFlags>(pipeline::default_train_config());
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Train a model on a kiln HDF5 dataset with streaming augmentation; write a model file (and "
      "with --run-dir: config, log, plots and checkpoints).");
  cmd->add_option("data", x->data,
                  "Training dataset (.h5 from kiln preprocess) or a folder of class folders; or "
                  "data.train")
      ->check(CLI::ExistingPath);
  cmd->add_option("--config", x->config_file,
                  "JSON config file (README: Training config); flags and --set override it")
      ->check(CLI::ExistingFile);
  cmd->add_option("--set", x->assignments,
                  "Override any config key, e.g. --set optimizer.lr=0.001 --set "
                  "callbacks.early_stopping.enabled=true (repeatable)");
  cmd->add_flag("--print-config", x->print_config,
                "Print the effective config as JSON and exit without training");
  auto& f = *flags;
  f.option<std::string>(cmd, "-o,--output", "output", "Model file to write (replaced atomically)");
  f.option<std::string>(cmd, "--run-dir", "run_dir",
                        "Run directory: config.json, log.csv, loss/accuracy/lr plots, "
                        "checkpoint.h5 and model.h5");
  f.option<std::string>(cmd, "--validation", "data.validation",
                        "Dataset or folder evaluated after every epoch (never augmented, never "
                        "trained on)")
      ->check(CLI::ExistingPath);
  f.option<double>(cmd, "--validation-split", "data.validation_split",
                   "Hold out this fraction of the training data for validation: stratified per "
                   "class, fixed by --seed, the same images every epoch, never augmented")
      ->check(CLI::Range(0.0, 0.9));
  f.option<std::string>(cmd, "--model", "model.name", "Built-in model")
      ->check(CLI::IsMember(nn::builtin_model_names()));
  f.option<double>(cmd, "--width", "model.width",
                   "Channel/unit multiplier of alexnet and vgg16 (e.g. 0.25 for small images)")
      ->check(positive_number());
  f.option<std::int64_t>(cmd, "--epochs", "epochs", "Passes over the training data")
      ->check(CLI::Range(1, 1000000));
  f.option<std::int64_t>(cmd, "--batch-size", "batch_size", "Samples per optimizer step")
      ->check(CLI::Range(1, 1 << 20));
  f.option<std::string>(cmd, "--optimizer", "optimizer.type",
                        "sgd, adagrad, rmsprop, adam or adamw")
      ->check(CLI::IsMember(nn::optimizer_types()));
  f.option<double>(cmd, "--lr", "optimizer.lr", "Learning rate")->check(positive_number());
  f.option<double>(cmd, "--momentum", "optimizer.momentum", "SGD momentum in [0, 1)")
      ->check(CLI::Range(0.0, 0.999999));
  f.flag(cmd, "--nesterov", "optimizer.nesterov", "Use Nesterov momentum (SGD)");
  f.option<double>(cmd, "--weight-decay", "optimizer.weight_decay",
                   "AdamW's decoupled weight decay")
      ->check(CLI::NonNegativeNumber);
  f.option<double>(cmd, "--clip-norm", "optimizer.clip_norm",
                   "Rescale the gradients when their global L2 norm exceeds this (0: off)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--augment", x->augment,
                  "Training augmentation stages as a JSON list, applied in order, e.g. "
                  "'[{\"type\": \"pad_crop\", \"padding\": 4}, {\"type\": \"color_jitter\"}]'; "
                  "stages: horizontal_flip, vertical_flip, pad_crop, color_jitter, scale_crop, "
                  "random_resized_crop (README: Augmentation)");
  cmd->add_option("--flip", x->flip,
                  "Probability of a random horizontal flip per training sample (after --augment)")
      ->check(CLI::Range(0.0, 1.0));
  f.option<std::int64_t>(cmd, "--seed", "seed",
                         "Seed of every random choice (initialization, order, augmentation, "
                         "validation split); same seed, same model")
      ->check(CLI::NonNegativeNumber);
  f.option<std::int64_t>(cmd, "--threads", "threads", "Worker threads (0: all cores)")
      ->check(CLI::Range(0, 1024));
  f.option<std::string>(cmd, "--lr-schedule", "schedule",
                        "constant, step:K:F, exponential:D, cosine[:MIN] or "
                        "piecewise:0=R0,E1=R1,..., optionally +warmup:W (README: Training)");
  cmd->add_option("--early-stopping", x->early_stopping,
                  "Stop after this many epochs without improvement of --monitor")
      ->check(CLI::Range(static_cast<std::int64_t>(0), static_cast<std::int64_t>(1) << 30));
  cmd->add_flag("--restore-best", x->restore_best,
                "With --early-stopping: keep the weights of the best epoch, not the last");
  cmd->add_option("--reduce-lr", x->reduce_lr,
                  "Multiply the rate by 0.1 after this many epochs without improvement")
      ->check(CLI::Range(static_cast<std::int64_t>(0), static_cast<std::int64_t>(1) << 30));
  f.option<std::string>(cmd, "--monitor", "callbacks.monitor",
                        "Metric watched by early stopping and reduce-lr: loss, accuracy, "
                        "val_loss, val_accuracy (default: val_loss with validation, else loss)");
  f.option<std::string>(cmd, "--checkpoint", "checkpoint",
                        "Save the whole training state here after every epoch (atomically)");
  cmd->add_option("--resume", x->resume,
                  "Continue a run directory (its config.json and checkpoint.h5) or a checkpoint "
                  "file up to --epochs: the same weights as if never interrupted")
      ->check(CLI::ExistingPath);
  f.option<std::string>(cmd, "--log-csv", "log_csv",
                        "Write one CSV row per epoch (loss, accuracy, val_*, rate, seconds)");
  f.option<std::int64_t>(cmd, "--limit", "data.limit", "Train on the first N samples only (0: all)")
      ->check(CLI::NonNegativeNumber);
  f.option<std::int64_t>(cmd, "--overfit", "overfit",
                         "Sanity check: train on the first N samples without augmentation, "
                         "dropout or regularization, plain SGD; report whether 100% training "
                         "accuracy was reached")
      ->check(CLI::Range(0, 1 << 20));

  cmd->callback([x, flags] {
    const Json config = effective_config(*x, *flags);
    if (x->print_config) {
      std::printf("%s\n", config.dump(2).c_str());
      return;
    }
    const std::string origin = x->config_file.empty() ? "the config" : x->config_file;
    pipeline::TrainRequest request = pipeline::request_from_config(config, origin);
    if (!x->resume.empty()) {
      request.resume_path = std::filesystem::is_directory(x->resume)
                                ? (std::filesystem::path(x->resume) / "checkpoint.h5").string()
                                : x->resume;
    }
    if (!request.run_dir.empty()) pipeline::write_run_config(request.run_dir, config);

    auto progress = std::make_shared<Progress>();
    pipeline::TrainObserver observer;
    observer.on_staging = [](const std::string& folder, std::int64_t done, std::int64_t total) {
      std::fprintf(stderr, "kiln train: reading %s: %lld/%lld images\n", folder.c_str(),
                   static_cast<long long>(done), static_cast<long long>(total));
    };
    observer.on_start = [](const std::string& summary) { std::printf("%s", summary.c_str()); };
    observer.on_batch = [progress](const pipeline::BatchProgress& p) { progress->batch(p); };
    observer.on_epoch = [progress](const pipeline::EpochReport& r) { progress->epoch(r); };
    const pipeline::TrainResult result = pipeline::train_model(request, observer);
    if (!result.skipped.empty()) {
      std::fprintf(stderr, "kiln train: left out %zu unreadable input(s) of the folder(s):\n",
                   result.skipped.size());
      for (const auto& k : result.skipped)
        std::fprintf(stderr, "  %s: %s\n", k.path.c_str(), k.reason.c_str());
    }
    std::printf("wrote %s\n", request.output_path.c_str());
    if (request.overfit > 0) {
      const auto& last = result.last_epoch;
      if (last.accuracy < 1.0) {
        throw Error("overfit check FAILED: " + std::to_string(request.overfit) +
                    " samples, training accuracy " + std::to_string(last.accuracy) + " and loss " +
                    std::to_string(last.loss) + " after " + std::to_string(last.epoch) +
                    " epochs; raise --epochs or --lr, else the model or the labels are wired "
                    "wrong");
      }
      std::printf(
          "overfit check passed: %lld samples at 100%% training accuracy after %lld "
          "epochs, loss %.4f\n",
          static_cast<long long>(request.overfit), static_cast<long long>(last.epoch), last.loss);
    }
  });
}

}  // namespace kiln::apps
