// make_stage(name, options): the one list of pipeline stages (transforms/registry.cpp).
// Config form: [{"type": "horizontal_flip", "p": 0.5}, {"type": "pad_crop", "padding": 4}, ...].
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "pipeline/transform.hpp"

namespace kiln::pipeline {

// Throws kiln::Error naming an unknown stage or option and listing what is allowed.
std::unique_ptr<Stage> make_stage(const std::string& name, const Json& options);
std::vector<std::unique_ptr<Stage>> make_stages(const Json& list);
std::vector<std::string> stage_names();
Json stages_config(const std::vector<std::unique_ptr<Stage>>& stages);

}  // namespace kiln::pipeline
