// A search space in the config's own terms: each dotted config key (list positions allowed, as in
// model.layers.3.rate) maps to a list of values (a grid axis) or a distribution:
//   [0.001, 0.01, 0.1]          the values themselves (grid: each one; random: one at random)
//   "uniform(0, 0.6)"           a real number, uniform in [0, 0.6)
//   "loguniform(1e-4, 1e-1)"    a positive real whose logarithm is uniform
//   "int(16, 128)"              an integer in [16, 128], every one equally likely
//   "choice([\"sgd\", \"adam\"])" one of the JSON values
// as a JSON object ({"optimizer.lr": "loguniform(1e-4, 1e-1)", ...}) or as --param key=spec.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/json.hpp"

namespace kiln::pipeline {

struct SearchParam {
  enum class Kind { kValues, kUniform, kLogUniform, kInt };
  std::string key;
  Kind kind = Kind::kValues;
  double lo = 0.0, hi = 0.0;  // kUniform, kLogUniform, kInt
  std::vector<Json> values;   // kValues (a list or a choice)
  std::string text;           // as the user wrote it, for messages and the record

  // Plots draw it on a log axis: loguniform, or a list of positive numbers spanning two decades.
  bool log_scale() const;
  // Whether grid search can enumerate it: values and integer ranges.
  bool enumerable() const { return kind == Kind::kValues || kind == Kind::kInt; }
};

// One point of the space: the value of each parameter, by key, in the space's order.
using SearchPoint = Json;  // a JSON object

// Reads one parameter; throws kiln::ConfigError naming `origin` and the key for a malformed spec.
SearchParam parse_search_param(const std::string& key, const Json& spec, const std::string& origin);
// "key=spec" of --param: spec is JSON (a list, a number, a quoted string) or a distribution.
SearchParam parse_search_assignment(const std::string& assignment);
// The parameters of a JSON object, in key order (JSON objects are read sorted).
std::vector<SearchParam> parse_search_space(const Json& object, const std::string& origin);

// Every combination, the first parameter varying slowest. Throws kiln::ConfigError naming a
// parameter grid search cannot enumerate (a real-valued distribution).
std::vector<SearchPoint> grid_points(const std::vector<SearchParam>& space);

// Trial `trial` (0-based) of a random search with `seed`: each parameter drawn from its own stream
// Rng{seed, trial, parameter, kSlotSearch}, so a trial's values depend on the seed and its number
// only, never on how many trials run or in what order.
SearchPoint random_point(const std::vector<SearchParam>& space, std::uint64_t seed,
                         std::int64_t trial);

// `config` with `value` at the dotted `key`: object members by name, list items by position.
// Throws kiln::ConfigError naming the key when a part of the path is not in the config, so a
// typo is found before any trial runs.
void set_config_path(Json& config, const std::string& key, const Json& value);

// The point laid on `base`, key by key.
Json config_at(const Json& base, const SearchPoint& point);

// A short text of a point for lines and tables: "optimizer.lr=0.0123 model.name=mlp".
std::string point_text(const SearchPoint& point);

}  // namespace kiln::pipeline
