// evaluate_model: `kiln evaluate` as a library call. The normalization and the eval stages come
// from the model file, never from the dataset or the command line (DESIGN contract 2).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/trainer.hpp"

namespace kiln::pipeline {

struct EvalRequest {
  std::string model_path;
  std::string data_path;
  std::int64_t batch_size = 256;
  int threads = 0;
};

struct EvalReport {
  nn::EvalResult result;
  std::vector<std::string> class_names;
};

// Throws kiln::Error when the data does not fit the model (size, channels, classes).
EvalReport evaluate_model(const EvalRequest& request);

}  // namespace kiln::pipeline
