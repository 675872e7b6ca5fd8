// parse_stage_list: a stage list given as JSON text on the command line (--augment), with a
// message that names the flag and shows the expected form.
#pragma once

#include <string>

#include "nn/error.hpp"
#include "nn/json.hpp"

namespace kiln::apps {

inline Json parse_stage_list(const std::string& text, const std::string& flag) {
  Json stages;
  try {
    stages = Json::parse(text);
  } catch (const Json::exception& e) {
    throw ConfigError(flag + " is not valid JSON (" + e.what() +
                      "); expected a list such as '[{\"type\": \"pad_crop\"}]'");
  }
  if (!stages.is_array()) {
    throw ConfigError(flag +
                      " must be a JSON list of stages, such as '[{\"type\": \"pad_crop\"}]'");
  }
  return stages;
}

}  // namespace kiln::apps
