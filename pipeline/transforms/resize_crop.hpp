// resize_crop: the last step of every crop — a window's pixels to the output size. Area averaging
// when either side shrinks by more than 2x (bilinear would skip pixels and alias), bilinear
// otherwise. The window may have been decoded at a reduced JPEG scale: only its pixels count.
#pragma once

#include <opencv2/core.hpp>

namespace kiln::pipeline {

cv::Mat resize_crop(const cv::Mat& pixels, cv::Size target);
// Only `area` of the pixels (fractional, as a reduced-scale window decode leaves it): bilinear,
// with the same pixel-centre convention as cv::resize.
cv::Mat resize_crop(const cv::Mat& pixels, cv::Size target, const cv::Rect2d& area);

}  // namespace kiln::pipeline
