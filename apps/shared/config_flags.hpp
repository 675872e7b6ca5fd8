// ConfigFlags: command-line flags that are shorthands for keys of the training config
// (pipeline/training/train_config.hpp). A flag is one row of a table, flag → key: its help text, its
// type and its default come from the key, so `--help` shows what the config says. A flag the user
// gave is laid on the config alone, with the flag as the origin of any mistake ("--lr 0: ...");
// flags the user did not give leave the config file's values alone.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "nn/json.hpp"

namespace kiln::apps {

struct FlagKey {
  const char* flag;  // CLI11 form, e.g. "-o,--output"
  const char* key;   // dotted config key, e.g. "output"
};

class ConfigFlags {
 public:
  // Adds one option per row to `cmd`; throws if a key is not in the config.
  ConfigFlags(CLI::App* cmd, const std::vector<FlagKey>& table);

  // Lays each flag the user gave on `config` (pipeline::merge_config), in table order.
  void apply(Json& config) const;

 private:
  struct Given;
  std::vector<std::shared_ptr<Given>> flags_;
};

}  // namespace kiln::apps
