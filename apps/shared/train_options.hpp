// The command line of a training config, shared by kiln train, kiln lr-find and kiln search: the
// data argument, --config FILE, the flags that are config keys (config_flags.hpp), the compound
// flags (--augment, --flip, --early-stopping, ...) and --set, laid on the defaults in that order,
// each checked as it is laid on so a mistake is named with its source.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apps/shared/config_flags.hpp"
#include "nn/json.hpp"
#include "pipeline/training/train_config.hpp"

namespace kiln::apps {

// What the command line gave beyond the one-key flags.
struct TrainCommandLine {
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
  std::string resume;  // a run directory's config.json is the first layer
  std::int64_t stop_after = 0;
};

// Adds the data argument, --config, --set, --print-config, --keys, the one-key flags, --augment
// and --flip to `cmd`, filling `x`.
std::shared_ptr<ConfigFlags> add_config_options(CLI::App* cmd, TrainCommandLine& x);

// The effective config of the command line and its typed form, or none when --keys or
// --print-config has answered already.
struct CommandConfig {
  Json json;
  pipeline::TrainConfig config;
};
std::optional<CommandConfig> command_config(const TrainCommandLine& x, const ConfigFlags& flags,
                                            pipeline::ModelOutput output);

}  // namespace kiln::apps
