#include "pipeline/transforms/scale_crop.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "nn/error.hpp"
#include "pipeline/transforms/resize_crop.hpp"

namespace kiln::pipeline {

ScaleCrop::ScaleCrop(int crop_size, int min_scale, int max_scale, int eval_short_side)
    : size(crop_size), scale_min(min_scale), scale_max(max_scale), eval_scale(eval_short_side) {
  validate();
}

ScaleCrop ScaleCrop::from_json(StageOptions& o) {
  ScaleCrop t;
  o.read("size", t.size);
  o.read_range("scale_range", t.scale_min, t.scale_max);
  t.eval_scale = t.scale_min;  // unless given: the smallest training scale
  o.read("eval_scale", t.eval_scale);
  t.validate();
  return t;
}

void ScaleCrop::validate() const {
  if (size <= 0) throw Error("scale_crop: size must be > 0, got " + std::to_string(size));
  if (scale_min < size || scale_max < scale_min) {
    throw Error("scale_crop: scale_range must satisfy size <= min <= max; got [" +
                std::to_string(scale_min) + ", " + std::to_string(scale_max) + "] with size " +
                std::to_string(size));
  }
  if (eval_scale < size) {
    throw Error("scale_crop: eval_scale " + std::to_string(eval_scale) + " is smaller than size " +
                std::to_string(size));
  }
}

cv::Rect ScaleCrop::window(const Draw& d, cv::Size source) const {
  const double scale = static_cast<double>(d.short_side) / std::min(source.height, source.width);
  // The resized image's size, and where the window sits in it.
  const int resized_w = std::max(size, static_cast<int>(std::lround(source.width * scale)));
  const int resized_h = std::max(size, static_cast<int>(std::lround(source.height * scale)));
  const int x0 =
      std::min(resized_w - size,
               static_cast<int>(std::floor(d.u * static_cast<float>(resized_w - size + 1))));
  const int y0 =
      std::min(resized_h - size,
               static_cast<int>(std::floor(d.v * static_cast<float>(resized_h - size + 1))));
  // The same window in source coordinates, clipped to the image.
  const double inv = 1.0 / scale;
  const int sx = std::clamp(static_cast<int>(std::lround(x0 * inv)), 0, source.width - 1);
  const int sy = std::clamp(static_cast<int>(std::lround(y0 * inv)), 0, source.height - 1);
  const int sw = std::clamp(static_cast<int>(std::lround(size * inv)), 1, source.width - sx);
  const int sh = std::clamp(static_cast<int>(std::lround(size * inv)), 1, source.height - sy);
  return {sx, sy, sw, sh};
}

cv::Mat ScaleCrop::resize_window(const cv::Mat& pixels, const cv::Rect2d& area) const {
  return resize_crop(pixels, {size, size}, area);
}

void ScaleCrop::apply(const Draw& d, cv::Mat& image) const {
  image = resize_crop(image(window(d, image.size())), {size, size});
}

}  // namespace kiln::pipeline
