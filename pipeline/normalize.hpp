// Normalization: what turns stored uint8 pixels into the floats the model sees. Three modes:
//   channel     y = (x[c] − mean[c]) / std[c]                       (the default)
//   mean_image  y = (x[y][x][c] − M[y][x][c]) / std[c]              (Caffe's mean file, then the
//               channel scale; needs stages that keep the stored size)
//   zca         y = W · (x − M) / 255 over the whole flattened image (Keras' ZCA whitening; W
//               fitted by `kiln fit --zca EPS`; for small fixed-size images)
// mean and std are on the 0..255 scale; they are fitted when the dataset is written (exact integer
// sums), copied into the model file, and read back from there by evaluate/predict (docs/design.md
// contract 2). The mean image and W travel as model-file arrays, not JSON.
#pragma once

#include <string>
#include <vector>

#include "io/dataset_format.hpp"
#include "io/model_file.hpp"
#include "nn/json.hpp"

namespace kiln::pipeline {

struct Normalization {
  std::string channel_order;  // "L" or "RGB": checked against the data it is applied to
  std::vector<float> mean;    // C
  std::vector<float> std;     // C, > 0
  std::string mode = "channel";
  std::vector<float> mean_image{};  // mean_image and zca: (H, W, C)
  std::vector<float> zca{};         // zca: D × D row-major, D = H·W·C, acting on HWC order

  // Throws kiln::Error when `mode` needs statistics the dataset does not have, naming the fix.
  static Normalization from_statistics(const io::ChannelStatistics& stats,
                                       const std::string& channel_order,
                                       const std::string& mode = "channel");
  Json to_json() const;
  io::PreprocessingArrays arrays() const;  // the mean image and W, when the mode uses them
  // Throws kiln::Error naming the missing or malformed key or array.
  static Normalization from_json(const Json& json, const io::PreprocessingArrays& arrays = {});

  // Throws kiln::Error when data with this channel count and order cannot use this normalization.
  void check_compatible(std::int64_t channels, const std::string& order,
                        const std::string& what) const;
  // Throws kiln::Error when the mode needs images of one size and (h, w, c) is not it.
  void check_image_size(std::int64_t h, std::int64_t w, std::int64_t c,
                        const std::string& what) const;
};

}  // namespace kiln::pipeline
