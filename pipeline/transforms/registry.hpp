// The one list of pipeline stages (transforms/registry.cpp): one line per transform.
// Config form: [{"type": "horizontal_flip", "p": 0.5}, {"type": "pad_crop", "padding": 4}, ...].
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/transform.hpp"

namespace kiln::pipeline {

// What the registry knows of a stage besides how to build it: for --help, the README test and
// the contract test that every registered stage must pass.
struct StageInfo {
  std::string_view name;
  std::string_view summary;
  std::string_view example;  // options as JSON text
};

// Every registered stage, sorted by name.
const std::vector<StageInfo>& stage_infos();
std::vector<std::string> stage_names();

// Throws kiln::Error naming an unknown stage or option and listing what is allowed.
std::unique_ptr<Stage> make_stage(const std::string& name, const Json& options);
std::vector<std::unique_ptr<Stage>> make_stages(const Json& list);
Json stages_config(const std::vector<std::unique_ptr<Stage>>& stages);

// The stage names with their examples, one per line: the help text of --augment options.
std::string stages_help();

}  // namespace kiln::pipeline
