// The kiln HDF5 dataset schema, version 1 (README "Dataset files" documents it for users):
//   /images          uint8 (N, H, W, C), chunked by rows; channel order in attribute channel_order
//   /labels          int32 (N), task classification
//   /targets         task multi_label: uint8 (N, K), 1 where class k is present;
//                    task regression: float32 (N, D), the values (D = len(class_names), the
//                    target names)
//   /skipped/paths   variable-length UTF-8 strings: inputs left out
//   /skipped/reasons variable-length UTF-8 strings: why, one per path
//   /normalization   group: mean (C) and std (C) float64 on the 0..255 scale, attribute count
//   root attributes: format = "kiln-dataset", format_version, layout = "NHWC", channel_order
//                    ("L" | "RGB"), class_names, source, command_line, kiln_version, task
//                    (classification | multi_label | regression; absent: classification)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::io {

inline constexpr const char* kDatasetFormat = "kiln-dataset";
inline constexpr std::int64_t kDatasetFormatVersion = 1;

// Per-channel statistics of a dataset's pixels, on the stored 0..255 scale.
struct ChannelStatistics {
  std::vector<double> mean;  // C
  std::vector<double> std;   // C, population standard deviation
  std::int64_t count = 0;    // pixels per channel that were summed
  // C×C channel covariance, row-major, population form; the basis of PCA lighting. Empty for files
  // written before it existed.
  std::vector<double> covariance{};
  // Fixed-size files: the mean of every pixel position, (H, W, C) row-major on the 0..255 scale.
  // Empty for variable-size data and older files.
  std::vector<double> mean_image{};
  // `kiln fit --zca EPS`: the D × D ZCA whitening matrix (D = H·W·C), row-major, acting on
  // (x − mean image) / 255 in HWC order. Empty unless fitted.
  std::vector<float> zca{};
  double zca_epsilon = 0.0;
};

struct SkippedInput {
  std::string path;
  std::string reason;
};

}  // namespace kiln::io
