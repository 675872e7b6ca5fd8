// Model files (HDF5): everything needed to use a trained model, and to resume training it.
//   root attributes: format = "kiln-model", format_version (2; 1 is read too), config (model JSON),
//                    optimizer (optimizer JSON), preprocessing (JSON: normalization + eval stages,
//                    docs/design.md contract 2), class_names
//   /weights/<ii>_<type>/<parameter>   float32, the parameter's (N, C, H, W) shape
//   /optimizer/slot<s>/<p>             float32 state, flat, in parameter order; attribute
//   iterations
//   /train_state                       attributes seed, epoch, step, learning_rate, rate_scale,
//                                      callbacks (JSON)
//   /train_state/epoch_progress        a mid-epoch checkpoint: batches, samples, correct,
//                                      correct_top5, loss_sum, seconds of the epoch under way
//   /train_state/callback_arrays/<n>   float32, callback state too large for JSON
// Written atomically: a crash while saving leaves the previous model file intact.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nn/json.hpp"
#include "nn/model/model.hpp"
#include "nn/training/optimizer.hpp"
#include "nn/training/trainer.hpp"

namespace kiln::io {

// Large preprocessing data (a mean image, a ZCA matrix) by name, stored as float32 datasets under
// /preprocessing_arrays rather than in the JSON attribute.
using PreprocessingArrays = std::map<std::string, std::vector<float>>;

struct ModelBundle {
  nn::Model model;
  Json optimizer_config;
  nn::OptimizerState optimizer_state;
  nn::TrainState train_state;
  Json preprocessing;
  std::vector<std::string> class_names;
  PreprocessingArrays arrays{};
  std::int64_t format_version = 0;  // of the file read
};

// Whether a file keeps TrainState::callback_arrays: the resume checkpoint does; a model file
// (which could be as large again for EarlyStopping's best weights) need not.
enum class CallbackArrays { kOmit, kSave };

void save_model(const std::string& path, nn::Model& model, const nn::Optimizer& optimizer,
                const nn::TrainState& state, const Json& preprocessing,
                const std::vector<std::string>& class_names, const PreprocessingArrays& arrays = {},
                CallbackArrays callback_arrays = CallbackArrays::kOmit);

// Throws kiln::Error naming the file when it is not a kiln model or does not match its config.
ModelBundle load_model(const std::string& path);

// What `kiln inspect` prints for a model file: classes, the layer table, optimizer, training state
// (epoch, step, rate, callback state) and the preprocessing evaluate and predict will apply.
std::string describe_model(const std::string& path);

}  // namespace kiln::io
