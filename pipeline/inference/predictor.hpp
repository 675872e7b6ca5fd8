// predict_images: class probabilities for image files, with exactly the preprocessing the model
// was trained with, all read from the model file (docs/design.md contract 2): decode to the model's
// channels, fit to the stored dataset size (short side + centre crop, as kiln preprocess does),
// the eval forms of the stages, the fitted normalization, a forward pass, softmax; or, with views,
// the size-keeping stages, the views (pipeline/views.hpp), one batch, the mean of the softmaxes.
#pragma once

#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <utility>
#include <vector>

#include "io/decode.hpp"
#include "nn/model/model.hpp"
#include "nn/task.hpp"
#include "pipeline/views.hpp"

namespace kiln::pipeline {

// What a model says of one image, as its task reads the outputs (nn/task.hpp):
//   classification  the top_k classes, most likely first
//   multi_label     every class whose probability is >= threshold, most likely first
//   regression      every target value, in the model's order (name, value)
struct Prediction {
  std::string path;
  std::vector<std::pair<std::string, float>> top;  // (class name, probability) or (name, value)
  std::string error;                               // non-empty: why this image has no prediction
  nn::Task task = nn::Task::kClassification;
};

struct PredictRequest {
  std::vector<std::string> model_paths;  // several: an ensemble (mean of their probabilities)
  std::vector<std::string> paths;
  int top_k = 3;
  double threshold = 0.5;  // multi_label
  ViewRequest views{};     // as in kiln evaluate (pipeline/views.hpp)
};

// A model file with everything its preprocessing needs, ready for images already decoded (as
// `decode_options()` says: the model's channels, RGB). Not thread-safe: one forward at a time.
class Predictor {
 public:
  // Throws kiln::Error when the model file cannot be used or the views do not fit it.
  explicit Predictor(const std::string& model_path, const ViewRequest& views = {});
  ~Predictor();
  Predictor(Predictor&&) noexcept;
  Predictor& operator=(Predictor&&) noexcept;

  // The class probabilities of one image (H, W, channels() uint8) — a multi-label model's sigmoid
  // probabilities, a regression model's values — the mean over its views with crops > 1: sized as the training data was stored, the eval stages, the normalization.
  std::vector<float> probabilities(const cv::Mat& image);
  io::DecodeOptions decode_options() const;
  int channels() const;
  const std::vector<std::string>& class_names() const;
  nn::Task task() const;
  // The network, whose layer outputs after probabilities() are those of the image's (last) view
  // once keep_layer_outputs() was called. Without it probabilities() runs output-only forwards
  // (nn::StepContext::output_only), which keep no layer's output apart.
  nn::Model& model();
  void keep_layer_outputs();

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// One Prediction per path, in order; a bad image gets an error and does not stop the others.
// With crops > 1 the probabilities are the average over the image's views, as in evaluation; with
// several models, the average over the models, each preprocessing the image its own way.
// Throws kiln::Error when a model file cannot be used, the views do not fit, or the models
// predict different classes (naming the one that differs).
std::vector<Prediction> predict_images(const PredictRequest& request);

}  // namespace kiln::pipeline
