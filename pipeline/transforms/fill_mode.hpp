// How geometric transforms fill pixels that come from outside the image: Keras' fill modes, mapped
// onto OpenCV's border types.
//   constant  kkkk|abcd|kkkk   (k = fill value)
//   nearest   aaaa|abcd|dddd
//   reflect   dcba|abcd|dcba   (the edge pixel repeated: scipy's and Keras' "reflect")
//   wrap      abcd|abcd|abcd
#pragma once

#include <opencv2/core.hpp>
#include <string>

#include "pipeline/stage_options.hpp"

namespace kiln::pipeline {

enum class FillMode { kConstant, kNearest, kReflect, kWrap };

// Throws kiln::Error naming `owner` and the allowed names for anything else.
FillMode parse_fill_mode(const std::string& name, const std::string& owner);
std::string fill_mode_name(FillMode mode);
int border_type(FillMode mode);  // cv::BORDER_*

// Reads a geometric stage's "fill_mode" and "fill" options (absent ones keep `mode` and `fill`).
void read_fill(StageOptions& options, FillMode& mode, int& fill, const std::string& owner);

}  // namespace kiln::pipeline
