// predict_images: class probabilities for image files, with exactly the preprocessing the model
// was trained with, all read from the model file (DESIGN contract 2): decode to the model's
// channels, fit to the stored dataset size (short side + centre crop, as kiln preprocess does),
// the eval forms of the stages, the fitted normalization, a forward pass, softmax.
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

// One Prediction per path, in order; a bad image gets an error and does not stop the others.
// Throws kiln::Error when the model file cannot be used.
std::vector<Prediction> predict_images(const std::string& model_path,
                                       const std::vector<std::string>& paths, int top_k);

}  // namespace kiln::pipeline
