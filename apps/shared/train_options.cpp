#include "apps/shared/train_options.hpp"

#include <cstdio>
#include <filesystem>

#include "apps/shared/stage_list.hpp"
#include "apps/shared/validators.hpp"
#include "io/run_files/run_directory.hpp"
#include "nn/error.hpp"
#include "pipeline/batch_mixing.hpp"
#include "pipeline/transforms/registry.hpp"

namespace kiln::apps {
namespace {

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
      {"--micro-batch-size", "micro_batch_size"},
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
      {"--diagnostics", "diagnostics"},
      {"--log-csv", "log_csv"},
      {"--overfit", "overfit"},
  };
  return table;
}

// Lays `overlay` on `config` with `origin` as the name of its source in messages.
void lay(Json& config, const std::string& key, Json value, const std::string& origin) {
  Json overlay = Json::object();
  at_dotted(overlay, key) = std::move(value);
  pipeline::merge_config(config, overlay, origin);
}

// A run directory given to --resume: its own config.json is the first layer.
void lay_resumed_run(Json& config, const std::string& run_dir) {
  const std::string saved = io::RunDirectory(run_dir).config();
  if (!std::filesystem::exists(saved)) {
    throw Error("--resume " + run_dir + ": no config.json; is it a kiln run directory?");
  }
  Json run_config = pipeline::load_config_file(saved);
  // Older run directories hold AdamW's 0.01 as optimizer.weight_decay whatever the optimizer;
  // adam, adagrad and rmsprop have no such option (an SGD run resumes its checkpoint's optimizer).
  if (auto optimizer = run_config.find("optimizer");
      optimizer != run_config.end() && optimizer->is_object()) {
    const std::string type = optimizer->value("type", "sgd");
    if (type != "sgd" && type != "adamw") optimizer->erase("weight_decay");
  }
  pipeline::merge_config(config, run_config, saved);
  config["run_dir"] = run_dir;
}

// The flags that set more than one key, or append.
void lay_compound_flags(Json& config, const TrainCommandLine& x) {
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
    // After the per-sample stages, before a batch stage (mixup, cutmix), which must stay last.
    Json stages = config["augment"];
    auto at = stages.end();
    if (!stages.empty() && stages.back().is_object() &&
        pipeline::is_batch_stage(stages.back().value("type", "")))
      at = stages.end() - 1;
    stages.insert(at, Json{{"type", "horizontal_flip"}, {"p", x.flip}});
    lay(config, "augment", stages, "--flip");
  }
}

// The layers of the effective config, in order, each checked as it is laid on, so a mistake is
// named with its source (file, flag or --set).
Json effective_config(const TrainCommandLine& x, const ConfigFlags& flags) {
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

// Every config key with its default, what it must be, and what it means.
void print_keys() {
  for (const pipeline::ConfigKey& k : pipeline::train_config_keys()) {
    std::printf("%s = %s\n    %s; %s\n", k.key.c_str(), k.default_value.dump().c_str(),
                k.rule.c_str(), k.meaning.c_str());
  }
}

}  // namespace

std::optional<CommandConfig> command_config(const TrainCommandLine& x, const ConfigFlags& flags,
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

// The options kiln train and kiln lr-find share: the data, the config layers, the augmentation.
std::shared_ptr<ConfigFlags> add_config_options(CLI::App* cmd, TrainCommandLine& x) {
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
                  "Probability of a random horizontal flip per training sample (after --augment's "
                  "per-sample stages)")
      ->check(CLI::Range(0.0, 1.0));
  return flags;
}

}  // namespace kiln::apps
