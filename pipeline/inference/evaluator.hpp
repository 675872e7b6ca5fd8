// evaluate_model: `kiln evaluate` as a library call. The normalization and the eval stages come
// from the model file, never from the dataset or the command line (docs/design.md contract 2).
//
// Single crop runs the model's eval stages as they are. Multi-crop (5 or 10 crops,
// pipeline/views.hpp) runs the eval stages that keep the size (the crops and resizes are replaced
// by the views), cuts every image into its views, batches them, and averages the softmax
// probabilities of each image's views before taking the arg max and the loss. An ensemble of models
// runs each with its own stored preprocessing over the same images, and averages the models'
// probabilities (each already averaged over its views). Multi-label models average each class's
// sigmoid probability the same way, regression models their values. Probabilities rather
// than logits: that is what ResNet, AlexNet and Caffe's oversample average, and it keeps one
// over-confident view from outvoting the others.
#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <vector>

#include "io/run_files/eval_report.hpp"
#include "nn/distributed/communicator.hpp"
#include "nn/json.hpp"
#include "nn/metrics.hpp"
#include "nn/target_metrics.hpp"
#include "nn/task.hpp"
#include "pipeline/views.hpp"

namespace kiln::pipeline {

struct EvalRequest {
  std::vector<std::string> model_paths;  // several: an ensemble (mean of their probabilities)
  std::string data_path;          // a kiln HDF5 dataset, or a folder with a sub-folder per class
  std::int64_t batch_size = 256;  // rows per forward pass: batch_size / views images (at least 1)
  int threads = 0;
  ViewRequest views{};  // crops 1: the model's eval stages; 5 or 10: multi-crop views
  // One model with crops > 1: also evaluate single-crop, in the same run. An ensemble: also each
  // model alone (with the same views), from the same forward passes.
  bool compare = false;
  std::string report_dir{};  // "": no files; else the files of io/run_files/eval_report.hpp
  double threshold = 0.5;    // multi_label: a class is predicted at this probability or above
  // MPI ranks (io/runtime/mpi_world.hpp): each reads and runs its share of the batches, and every rank
  // gets the figures of one process; rank 0 alone writes the report files.
  nn::Communicator* ranks = nullptr;
};

// The figures of one way of viewing the images. Which metrics hold them follows the models' task
// (nn/task.hpp): `metrics` for classification, `multi_label` or `regression` for the others.
struct EvalPass {
  std::string views;  // "single crop (the model's eval stages)" or ViewOptions::describe()
  int views_per_image = 1;
  nn::ClassificationMetrics metrics;
  std::vector<io::ImagePrediction> predictions;  // in dataset order (classification)
  double seconds = 0.0;                          // wall time, reading to metrics
  nn::Task task = nn::Task::kClassification;
  std::optional<nn::MultiLabelMetrics> multi_label{};
  std::optional<nn::RegressionMetrics> regression{};
  std::vector<io::ImageScores> scored{};  // multi_label, regression: in dataset order

  std::int64_t images() const {
    return multi_label  ? multi_label->samples()
           : regression ? regression->samples()
                        : metrics.samples();
  }
  double images_per_second() const {
    return seconds > 0 ? static_cast<double>(images()) / seconds : 0.0;
  }
};

struct EvalReport {
  std::vector<std::string> class_names;
  // With compare: single crop first, or the ensemble's models alone; the last is the one asked for.
  std::vector<EvalPass> passes;
};

// The views a request gets from the model at `model_path` (its preprocessing record):
//   scales:  as asked; with auto_scales, auto_scales(); else the eval short side of the model's
//            crop stage (scale_crop: eval_scale; random_resized_crop: size / crop_fraction), else
//            none (the image as stored);
//   padding: as asked; else, when the scaled image is no larger than the crop (small images:
//            Fashion-MNIST, CIFAR) and the model trained with pad_crop, half its padding (at
//            least 1); else 0.
// Throws kiln::ConfigError for a request out of range (check_view_request).
ViewOptions default_views(const Json& preprocessing, const std::string& model_path, cv::Size stored,
                          cv::Size crop, const ViewRequest& request);

// --scales auto: the ends and the middle of the training scale_crop stage's scale_range (one
// scale when the range is one value), as ResNet's multi-scale test spreads its scales over the
// range it trained on: [256, 480] gives 256, 368, 480. Throws kiln::Error naming the model when
// it trained without scale_crop.
std::vector<int> auto_scales(const Json& preprocessing, const std::string& model_path);

// Throws kiln::Error when the data does not fit the model (size, channels, classes), naming both.
EvalReport evaluate_model(const EvalRequest& request);

}  // namespace kiln::pipeline
