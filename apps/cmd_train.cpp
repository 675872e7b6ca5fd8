// kiln train: a config (defaults ← --resume RUN_DIR's config ← --config FILE ← flags ← --set)
// → a trained model file, and with a run directory: config.json, log.csv, plots, checkpoint.h5.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

#include "apps/commands.hpp"
#include "apps/config_flags.hpp"
#include "apps/stage_list.hpp"
#include "apps/validators.hpp"
#include "nn/error.hpp"
#include "nn/layers/registry.hpp"
#include "nn/lr_finder.hpp"
#include "pipeline/jobs/cross_validation.hpp"
#include "pipeline/jobs/train_config.hpp"
#include "pipeline/jobs/training.hpp"
#include "pipeline/transforms/registry.hpp"

namespace kiln::apps {

namespace {

struct Extras {
  std::string data;
  std::string config_file;
  std::vector<std::string> assignments;
  bool print_config = false;
  bool list_keys = false;
  std::string augment;
  float flip = 0.f;
  std::int64_t early_stopping = -1;
  std::int64_t reduce_lr = -1;
  bool restore_best = false;
  std::string resume;
  std::int64_t stop_after = 0;
};

// Flags that are each one config key; their help, type and default come from the key.
const std::vector<FlagKey>& flag_table() {
  static const std::vector<FlagKey> table = {
      {"-o,--output", "output"},
      {"--run-dir", "run_dir"},
      {"--validation", "data.validation"},
      {"--validation-split", "data.validation_split"},
      {"--folds", "data.folds"},
      {"--limit", "data.limit"},
      {"--model", "model.name"},
      {"--width", "model.width"},
      {"--init-from", "model.init_from"},
      {"--freeze", "model.freeze"},
      {"--fine-tune", "model.fine_tune"},
      {"--epochs", "epochs"},
      {"--batch-size", "batch_size"},
      {"--optimizer", "optimizer.type"},
      {"--lr", "optimizer.lr"},
      {"--momentum", "optimizer.momentum"},
      {"--nesterov", "optimizer.nesterov"},
      {"--weight-decay", "optimizer.weight_decay"},
      {"--clip-norm", "optimizer.clip_norm"},
      {"--lr-schedule", "schedule"},
      {"--monitor", "callbacks.monitor"},
      {"--seed", "seed"},
      {"--threads", "threads"},
      {"--checkpoint", "checkpoint"},
      {"--checkpoint-every", "checkpoint_every"},
      {"--log-csv", "log_csv"},
      {"--overfit", "overfit"},
  };
  return table;
}

// Lays `overlay` on `config` with `origin` as the name of its source in messages.
void lay(Json& config, const std::string& key, Json value, const std::string& origin) {
  Json overlay = Json::object();
  set_dotted(overlay, key, std::move(value));
  pipeline::merge_config(config, overlay, origin);
}

// A run directory given to --resume: its own config.json is the first layer.
void lay_resumed_run(Json& config, const std::string& run_dir) {
  const std::string saved = (std::filesystem::path(run_dir) / "config.json").string();
  if (!std::filesystem::exists(saved)) {
    throw Error("--resume " + run_dir + ": no config.json; is it a kiln run directory?");
  }
  pipeline::merge_config(config, pipeline::load_config_file(saved), saved);
  config["run_dir"] = run_dir;
}

// The flags that set more than one key, or append.
void lay_compound_flags(Json& config, const Extras& x) {
  if (!x.augment.empty()) {
    lay(config, "augment", parse_stage_list(x.augment, "--augment"), "--augment");
  }
  if (x.early_stopping >= 0) {
    const std::string origin = "--early-stopping " + std::to_string(x.early_stopping);
    lay(config, "callbacks.early_stopping.enabled", true, origin);
    lay(config, "callbacks.early_stopping.patience", x.early_stopping, origin);
  }
  if (x.restore_best) {
    lay(config, "callbacks.early_stopping.restore_best_weights", true, "--restore-best");
  }
  if (x.reduce_lr >= 0) {
    const std::string origin = "--reduce-lr " + std::to_string(x.reduce_lr);
    lay(config, "callbacks.reduce_lr.enabled", true, origin);
    lay(config, "callbacks.reduce_lr.patience", x.reduce_lr, origin);
  }
  if (x.flip > 0.f) {
    Json stages = config["augment"];
    stages.push_back({{"type", "horizontal_flip"}, {"p", x.flip}});
    lay(config, "augment", stages, "--flip");
  }
}

// The layers of the effective config, in order, each checked as it is laid on, so a mistake is
// named with its source (file, flag or --set).
Json effective_config(const Extras& x, const ConfigFlags& flags) {
  Json config = pipeline::default_train_config();
  if (!x.resume.empty() && std::filesystem::is_directory(x.resume)) {
    lay_resumed_run(config, x.resume);
  }
  if (!x.config_file.empty()) {
    pipeline::merge_config(config, pipeline::load_config_file(x.config_file), x.config_file);
  }
  if (!x.data.empty()) lay(config, "data.train", x.data, "the data argument");
  flags.apply(config);
  lay_compound_flags(config, x);
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

// Every config key with its default, what it must be, and what it means.
void print_keys() {
  for (const pipeline::ConfigKey& k : pipeline::train_config_keys()) {
    std::printf("%s = %s\n    %s; %s\n", k.key.c_str(), k.default_value.dump().c_str(),
                k.rule.c_str(), k.meaning.c_str());
  }
}

// The effective config of the command line and its typed form, or none when --keys or
// --print-config has answered already.
struct CommandConfig {
  Json json;
  pipeline::TrainConfig config;
};

std::optional<CommandConfig> command_config(const Extras& x, const ConfigFlags& flags,
                                            pipeline::ModelOutput output) {
  if (x.list_keys) {
    print_keys();
    return std::nullopt;
  }
  Json json = effective_config(x, flags);
  if (x.print_config) {
    std::printf("%s\n", json.dump(2).c_str());
    return std::nullopt;
  }
  const std::string origin = x.config_file.empty() ? "the config" : x.config_file;
  pipeline::TrainConfig config = pipeline::train_config_from_json(json, origin, output);
  return CommandConfig{std::move(json), std::move(config)};
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
void run_cross_validation(const Extras& x, const Json& json, const pipeline::TrainConfig& config) {
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
  const std::string cv_csv = (std::filesystem::path(config.run_dir) / "cv.csv").string();
  if (r.paused) {
    std::printf("paused after epoch %lld of %lld; continue with: kiln train --resume %s\n",
                static_cast<long long>(x.stop_after), static_cast<long long>(config.epochs),
                config.run_dir.c_str());
  }
  std::printf("wrote %s\n", cv_csv.c_str());
}

void run_train(const Extras& x, const ConfigFlags& flags) {
  const std::optional<CommandConfig> read =
      command_config(x, flags, pipeline::ModelOutput::kRequired);
  if (!read) return;
  const Json& json = read->json;
  const pipeline::TrainConfig& config = read->config;
  if (config.data.folds > 0 && config.data.fold == 0) {
    run_cross_validation(x, json, config);
    return;
  }
  std::string resume_from;
  if (!x.resume.empty()) {
    resume_from = std::filesystem::is_directory(x.resume)
                      ? (std::filesystem::path(x.resume) / "checkpoint.h5").string()
                      : x.resume;
  }
  pipeline::TrainObserver observer = console_observer();
  // The run's config is recorded once every check has passed, so a refused --resume (another
  // batch size, an epoch count already reached) leaves the run directory as it was.
  observer.on_start = [&config, &json](const std::string& summary) {
    if (!config.run_dir.empty()) pipeline::write_run_config(config.run_dir, json);
    std::printf("%s", summary.c_str());
  };
  const pipeline::TrainResult result =
      pipeline::train_model(config, observer, resume_from, x.stop_after);
  report_skipped(result.skipped);
  if (result.paused) {
    std::printf("paused after epoch %lld of %lld; continue with: kiln train --resume %s\n",
                static_cast<long long>(x.stop_after), static_cast<long long>(config.epochs),
                config.run_dir.empty() ? config.checkpoint_path().c_str() : config.run_dir.c_str());
    return;
  }
  std::printf("wrote %s\n", config.output_path().c_str());
  if (config.overfit > 0) report_overfit(config, result.last_epoch);
}

// The options kiln train and kiln lr-find share: the data, the config layers, the augmentation.
std::shared_ptr<ConfigFlags> add_config_options(CLI::App* cmd, Extras& x) {
  cmd->add_option("data", x.data,
                  "Training dataset (.h5 from kiln preprocess) or a folder of class folders; or "
                  "data.train")
      ->check(existing_path());
  cmd->add_option("--config", x.config_file,
                  "JSON config file (README: Training); flags and --set override it")
      ->check(existing_file());
  cmd->add_option("--set", x.assignments,
                  "Override any config key, e.g. --set optimizer.lr=0.001 --set "
                  "callbacks.early_stopping.enabled=true (repeatable)");
  cmd->add_flag("--print-config", x.print_config,
                "Print the effective config as JSON and exit without training");
  cmd->add_flag("--keys", x.list_keys,
                "List every config key with its default, what it must be and what it means");
  auto flags = std::make_shared<ConfigFlags>(cmd, flag_table());
  cmd->add_option("--augment", x.augment,
                  "Training stages as a JSON list, applied in order (config: augment). Stages, "
                  "with example options:\n" +
                      pipeline::stages_help());
  cmd->add_option("--flip", x.flip,
                  "Probability of a random horizontal flip per training sample (after --augment)")
      ->check(CLI::Range(0.0, 1.0));
  return flags;
}

struct RangeTest {
  nn::LrFindOptions options;
  std::string output_folder = ".";
};

void run_lr_find(const Extras& x, const ConfigFlags& flags, const RangeTest& test) {
  const std::optional<CommandConfig> read = command_config(x, flags, pipeline::ModelOutput::kNone);
  if (!read) return;
  const pipeline::TrainConfig& config = read->config;
  pipeline::TrainObserver observer;
  observer.on_start = [](const std::string& summary) { std::printf("%s", summary.c_str()); };
  const nn::LrFindResult r =
      pipeline::find_learning_rate(config, test.options, test.output_folder, observer);
  if (r.points.empty()) throw Error("the range test took no step: the loss was not finite");
  std::printf("range test: %zu steps, rate %.3g to %.3g%s\n", r.points.size(),
              r.points.front().rate, r.points.back().rate,
              r.diverged ? " (stopped: the loss passed 4x its minimum)" : "");
  std::printf("suggested rate: %.3g (steepest descent), %.3g (minimum / 10)\n", r.steepest,
              r.minimum_by_10);
  const auto folder = std::filesystem::path(test.output_folder);
  std::printf("wrote %s, %s\n", (folder / "lr_find.csv").c_str(), (folder / "lr_find.png").c_str());
}

}  // namespace

void add_lr_find_command(CLI::App& app) {
  auto x = std::make_shared<Extras>();
  auto test = std::make_shared<RangeTest>();
  CLI::App* cmd = app.add_subcommand(
      "lr-find",
      "The learning-rate range test: train the config's model from its initial weights for one "
      "pass while the rate grows exponentially; write lr_find.csv and lr_find.png and suggest a "
      "rate. No model file is written.");
  auto flags = add_config_options(cmd, *x);
  cmd->add_option("--min", test->options.min_rate, "Rate of the first step")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max", test->options.max_rate, "Rate of the last step")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--steps", test->options.steps, "Optimizer steps from --min to --max")
      ->check(CLI::Range(static_cast<std::int64_t>(2), static_cast<std::int64_t>(1) << 30))
      ->capture_default_str();
  cmd->add_option("--output-dir", test->output_folder, "Where lr_find.csv and lr_find.png go")
      ->capture_default_str();
  cmd->callback([x, flags, test] {
    if (!(test->options.max_rate > test->options.min_rate)) {
      throw ConfigError("--max must be above --min");
    }
    run_lr_find(*x, *flags, *test);
  });
}

void add_train_command(CLI::App& app) {
  auto x = std::make_shared<Extras>();
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
  cmd->footer("Layer types for model.layers: " + layers + ". Every config key: kiln train --keys.");
  cmd->callback([x, flags] { run_train(*x, *flags); });
}

}  // namespace kiln::apps
