// pack: normalize an (H, W, C) uint8 image (pipeline/normalize.hpp's modes) and transpose it to
// (C, H, W) float.
#pragma once

#include <opencv2/core.hpp>
#include <span>

#include "pipeline/channel_table.hpp"
#include "pipeline/normalize.hpp"

namespace kiln::pipeline {

// requires: image is continuous CV_8UC(C) with C == norm.mean.size(); out has C·H·W floats.
// Throws kiln::Error when a mean-image or ZCA normalization was fitted on another image size.
// `table` (optional): a per-channel lookup applied to the pixels first, folded into the
// conversion (pipeline/channel_table.hpp).
void pack_image(const cv::Mat& image, const Normalization& norm, std::span<float> out,
                const ChannelTable* table = nullptr);

}  // namespace kiln::pipeline
