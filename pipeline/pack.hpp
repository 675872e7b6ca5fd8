// pack: normalize an (H, W, C) uint8 image and transpose it to (C, H, W) float, in one pass.
//   out[c][y][x] = (in[y][x][c] - mean[c]) / std[c]
#pragma once

#include <opencv2/core.hpp>
#include <span>

#include "pipeline/normalize.hpp"

namespace kiln::pipeline {

// requires: image is continuous CV_8UC(C) with C == norm.mean.size(); out has C·H·W floats.
void pack_image(const cv::Mat& image, const Normalization& norm, std::span<float> out);

}  // namespace kiln::pipeline
