// ConfigFlags: command-line flags that are shorthands for keys of the training config
// (pipeline/train_config.hpp). A flag's default comes from the config's default, so `--help`
// shows it; a flag the user gave is written at its key, on top of the config file and below
// --set. Flags the user did not give leave the config file's values alone.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "nn/json.hpp"

namespace kiln::apps {

// Writes `value` at the dotted `key` of `config`, creating objects on the way.
inline void set_dotted(Json& config, const std::string& key, Json value) {
  Json* node = &config;
  std::stringstream parts(key);
  for (std::string part; std::getline(parts, part, '.');) node = &(*node)[part];
  *node = std::move(value);
}

inline const Json& at_dotted(const Json& config, const std::string& key) {
  const Json* node = &config;
  std::stringstream parts(key);
  for (std::string part; std::getline(parts, part, '.');) node = &node->at(part);
  return *node;
}

class ConfigFlags {
 public:
  explicit ConfigFlags(Json defaults) : defaults_(std::move(defaults)) {}

  template <class T>
  CLI::Option* option(CLI::App* cmd, const std::string& flag, const std::string& key,
                      const std::string& help) {
    auto value = std::make_shared<T>(at_dotted(defaults_, key).get<T>());
    CLI::Option* opt = cmd->add_option(flag, *value, help);
    writers_.push_back([opt, value, key](Json& overlay) {
      if (opt->count() > 0) set_dotted(overlay, key, Json(*value));
    });
    return opt->capture_default_str();
  }

  // A flag without a value that sets `key` to true.
  CLI::Option* flag(CLI::App* cmd, const std::string& flag, const std::string& key,
                    const std::string& help) {
    CLI::Option* opt = cmd->add_flag(flag, help);
    writers_.push_back([opt, key](Json& overlay) {
      if (opt->count() > 0) set_dotted(overlay, key, true);
    });
    return opt;
  }

  // The keys of every flag the user gave.
  Json overlay() const {
    Json overlay = Json::object();
    for (const auto& write : writers_) write(overlay);
    return overlay;
  }

 private:
  Json defaults_;
  std::vector<std::function<void(Json&)>> writers_;
};

}  // namespace kiln::apps
