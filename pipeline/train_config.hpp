// The config of a training run: one JSON document holding data, augmentation, model, optimizer,
// schedule, callbacks, epochs, batch size, seed, threads and where the results go. `kiln train`
// builds it in layers — defaults, then --config FILE, then the flags given on the command line,
// then every --set key=value — and trains from the result, which it also writes into the run
// directory, so a run can be repeated or resumed from its own config.json.
//
// Every key, its default and its range is in default_train_config() and the README. A key that is
// not there, or a value of the wrong type or out of range, is an error that names where it came
// from (the file, or --set), the key, and what is allowed.
#pragma once

#include <string>

#include "nn/json.hpp"
#include "pipeline/training.hpp"

namespace kiln::pipeline {

// Every key with its default value.
Json default_train_config();

// Reads a JSON config file. Throws kiln::Error naming the file (and the line for a syntax error).
Json load_config_file(const std::string& path);

// Overlays `overlay` on `config`, key by key (objects recursively; lists and values replace).
// Throws kiln::Error for a key `config` does not have, naming `origin`, the dotted key and the keys
// allowed there.
void merge_config(Json& config, const Json& overlay, const std::string& origin);

// Applies "dotted.key=value" (value: JSON, or else a plain string). Throws kiln::Error for a bad
// form or an unknown key.
void apply_assignment(Json& config, const std::string& assignment);

// Checks every value and turns the config into a request. `origin` names the config in messages.
TrainRequest request_from_config(const Json& config, const std::string& origin);

// Writes the config into `run_dir`/config.json (creating the folder), atomically, so that
// `kiln train --resume RUN_DIR` and a reader of the run see exactly what ran.
void write_run_config(const std::string& run_dir, const Json& config);

}  // namespace kiln::pipeline
