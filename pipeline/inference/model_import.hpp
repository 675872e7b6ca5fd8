// Saving a network trained elsewhere (io/interop/onnx_import.hpp, io/keras_import.hpp) as a kiln model
// file, with the preprocessing it was trained with stated by the user: kiln evaluate and predict
// then size, crop and normalize images as the source framework did, and kiln train can fine-tune
// it (model.fine_tune, --init-from).
#pragma once

#include <string>
#include <vector>

#include "nn/model/model.hpp"
#include "nn/task.hpp"

namespace kiln::pipeline {

struct ImportedPreprocessing {
  std::vector<float> mean{};    // per channel of the model's input; default 0
  std::vector<float> std{};     // default 1
  float pixel_scale = 1.f;      // mean and std are on pixels in 0..pixel_scale (1 or 255)
  std::string channel_order{};  // "RGB" or "L": what the model takes once imported
  // torchvision's Resize(resize) + CenterCrop(crop): images are stored resize x resize (short
  // side resized, centre kept, as `kiln preprocess --size`), then the centre crop x crop. 0: the
  // model's input size.
  int resize = 0;
  int crop = 0;
  nn::Task task = nn::Task::kClassification;  // what the outputs mean
  // The network's own input normalization, folded out of its graph: it computes on
  // input_scale · x + input_shift per channel (empty: identity) of what --mean/--std give it.
  std::vector<float> input_scale{}, input_shift{};
};

// Writes `model` to `output_path` with class_names (default "0", "1", ...) and the preprocessing
// record. Throws kiln::Error naming what does not fit the model (channel counts, crop size,
// class count) before anything is written.
void save_imported_model(nn::Model& model, const ImportedPreprocessing& pre,
                         std::vector<std::string> class_names, const std::string& output_path);

}  // namespace kiln::pipeline
