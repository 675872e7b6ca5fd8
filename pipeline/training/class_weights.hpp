// The class weights of a run's loss (the config's loss.class_weights), resolved against the
// training rows: "auto" weighs class c by N / (K · count_c), scikit-learn's "balanced" rule,
// so that a sample's mean weight over the training data is 1 and the loss keeps its scale.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "nn/json.hpp"

namespace kiln::pipeline {

// Samples per class among `labels` (ignoring none: a label outside [0, classes) throws).
std::vector<std::int64_t> class_counts(std::span<const std::int32_t> labels, std::int64_t classes);

// spec: null (no weights: empty), "auto", or a list of `classes` weights. Throws
// kiln::ConfigError naming 'loss.class_weights' for a list of another length, or "auto" with a
// class that has no training samples (naming it).
std::vector<double> resolve_class_weights(const Json& spec, std::span<const std::int64_t> counts,
                                          const std::vector<std::string>& class_names);

}  // namespace kiln::pipeline
