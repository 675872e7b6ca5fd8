// The files a search keeps beside its state (search.json): trials.csv, one row per trial (its
// number, status, score, epochs, seconds, each parameter, and why it failed or stopped);
// best.json, the best finished trial's config; and score_vs_<key>.png for each numeric parameter,
// one series per epoch count so halving's rungs are told apart, log-scaled for loguniform ones.
#pragma once

#include <string>
#include <vector>

#include "nn/json.hpp"
#include "pipeline/search/search.hpp"
#include "pipeline/search/search_space.hpp"

namespace kiln::pipeline {

// `best_config`: null while no trial has finished (best.json is then not written).
void write_search_files(const std::string& dir, const std::vector<SearchParam>& space,
                        const std::string& metric, const std::vector<Trial>& trials,
                        const Json& best_config);

// The name of a parameter's plot: score_vs_optimizer.lr.png.
std::string score_plot_name(const std::string& key);

}  // namespace kiln::pipeline
