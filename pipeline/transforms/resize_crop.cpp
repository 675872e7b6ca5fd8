#include "pipeline/transforms/resize_crop.hpp"

#include <opencv2/imgproc.hpp>

namespace kiln::pipeline {

cv::Mat resize_crop(const cv::Mat& pixels, cv::Size target) {
  if (pixels.size() == target) return pixels.isContinuous() ? pixels : pixels.clone();
  const bool shrink_a_lot = pixels.cols > 2 * target.width || pixels.rows > 2 * target.height;
  cv::Mat out;
  cv::resize(pixels, out, target, 0, 0, shrink_a_lot ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
}

cv::Mat resize_crop(const cv::Mat& pixels, cv::Size target, const cv::Rect2d& area) {
  if (area == cv::Rect2d(0, 0, pixels.cols, pixels.rows)) return resize_crop(pixels, target);
  // Output pixel centre (u + 0.5) maps to area.x + (u + 0.5) * sx in the source's continuous
  // coordinates, i.e. to pixel index area.x + (u + 0.5) * sx - 0.5.
  const double sx = area.width / target.width, sy = area.height / target.height;
  const cv::Matx23d to_source(sx, 0, area.x + 0.5 * sx - 0.5, 0, sy, area.y + 0.5 * sy - 0.5);
  cv::Mat out;
  cv::warpAffine(pixels, out, to_source, target, cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                 cv::BORDER_REPLICATE);
  return out;
}

}  // namespace kiln::pipeline
