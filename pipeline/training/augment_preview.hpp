// render_augment_preview: what the training stages do, as one picture. One row per dataset image
// (evenly spaced through the file): the stored image, then the image as training epochs 1..M see
// it — the very draws of Rng{seed, epoch, index, stage}, so the preview is what training will
// show, not an imitation. Small images are enlarged (nearest neighbour) so the cells are legible.
#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <string>

#include "nn/json.hpp"

namespace kiln::pipeline {

struct PreviewRequest {
  std::string data_path;
  Json stages = Json::array();  // training stages
  int images = 6;               // rows
  int views = 6;                // augmented columns (epochs 1..views)
  std::uint64_t seed = 1;
  int cell = 128;  // minimum cell size in pixels
};

// A BGR image ready for cv::imwrite. Throws kiln::Error for bad stages or an unreadable file.
cv::Mat render_augment_preview(const PreviewRequest& request);

}  // namespace kiln::pipeline
