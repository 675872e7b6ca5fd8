// Normalization: what turns stored uint8 pixels into the floats the model sees,
//   y[c] = (x[c] - mean[c]) / std[c],   mean and std on the 0..255 scale, per channel.
// It is fitted when the dataset is written (io::DatasetWriter, exact integer sums), copied into the
// model file, and read back from there by evaluate/predict (DESIGN contract 2).
#pragma once

#include <string>
#include <vector>

#include "io/dataset_format.hpp"
#include "nn/json.hpp"

namespace kiln::pipeline {

struct Normalization {
  std::string channel_order;  // "L" or "RGB": checked against the data it is applied to
  std::vector<float> mean;    // C
  std::vector<float> std;     // C, > 0

  static Normalization from_statistics(const io::ChannelStatistics& stats,
                                       const std::string& channel_order);
  Json to_json() const;
  // Throws kiln::Error naming the missing or malformed key.
  static Normalization from_json(const Json& json);

  // Throws kiln::Error when data with this channel count and order cannot use this normalization.
  void check_compatible(std::int64_t channels, const std::string& order,
                        const std::string& what) const;
};

}  // namespace kiln::pipeline
