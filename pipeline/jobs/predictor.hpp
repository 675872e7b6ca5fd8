// predict_images: class probabilities for image files, with exactly the preprocessing the model
// was trained with, all read from the model file (DESIGN contract 2): decode to the model's
// channels, fit to the stored dataset size (short side + centre crop, as kiln preprocess does),
// the eval forms of the stages, the fitted normalization, a forward pass, softmax; or, with views,
// the size-keeping stages, the views (pipeline/views.hpp), one batch, the mean of the softmaxes.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace kiln::pipeline {

struct Prediction {
  std::string path;
  std::vector<std::pair<std::string, float>> top;  // (class name, probability), most likely first
  std::string error;                               // non-empty: why this image has no prediction
};

struct PredictRequest {
  std::string model_path;
  std::vector<std::string> paths;
  int top_k = 3;
  int crops = 1;              // 1, 5 or 10 views per scale, as in kiln evaluate
  std::vector<int> scales{};  // empty: the model's eval scale (pipeline/evaluator.hpp)
  int padding = -1;           // -1: the evaluator's default
};

// One Prediction per path, in order; a bad image gets an error and does not stop the others.
// With crops > 1 the probabilities are the average over the image's views, as in evaluation.
// Throws kiln::Error when the model file cannot be used or the views do not fit.
std::vector<Prediction> predict_images(const PredictRequest& request);

}  // namespace kiln::pipeline
