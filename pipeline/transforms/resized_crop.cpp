#include "pipeline/transforms/resized_crop.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "nn/error.hpp"
#include "pipeline/transforms/resize_crop.hpp"

namespace kiln::pipeline {

RandomResizedCrop::RandomResizedCrop(int crop_size, float area_lo, float area_hi, float ratio_lo,
                                     float ratio_hi, float fraction)
    : size(crop_size),
      area_min(area_lo),
      area_max(area_hi),
      ratio_min(ratio_lo),
      ratio_max(ratio_hi),
      crop_fraction(fraction) {
  validate();
}

RandomResizedCrop RandomResizedCrop::from_json(StageOptions& o) {
  RandomResizedCrop t;
  o.read("size", t.size);
  o.read_range("area_range", t.area_min, t.area_max);
  o.read_range("ratio_range", t.ratio_min, t.ratio_max);
  o.read("crop_fraction", t.crop_fraction);
  t.validate();
  return t;
}

void RandomResizedCrop::validate() const {
  if (size <= 0) throw Error("random_resized_crop: size must be > 0");
  if (!(area_min > 0.f && area_min <= area_max && area_max <= 1.f)) {
    throw Error("random_resized_crop: area_range must satisfy 0 < lo <= hi <= 1");
  }
  if (!(ratio_min > 0.f && ratio_min <= ratio_max)) {
    throw Error("random_resized_crop: ratio_range must satisfy 0 < lo <= hi");
  }
  if (!(crop_fraction > 0.f && crop_fraction <= 1.f)) {
    throw Error("random_resized_crop: crop_fraction must be in (0, 1]");
  }
}

RandomResizedCrop::Draw RandomResizedCrop::draw(cv::Size source, nn::Rng& rng) const {
  const double area = static_cast<double>(source.width) * source.height;
  const double log_lo = std::log(ratio_min), log_hi = std::log(ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * rng.uniform(area_min, area_max);
    const double ratio =
        std::exp(rng.uniform(static_cast<float>(log_lo), static_cast<float>(log_hi)));
    const int w = static_cast<int>(std::lround(std::sqrt(target * ratio)));
    const int h = static_cast<int>(std::lround(std::sqrt(target / ratio)));
    if (w > 0 && h > 0 && w <= source.width && h <= source.height) {
      const int x = static_cast<int>(rng.randint(0, source.width - w + 1));
      const int y = static_cast<int>(rng.randint(0, source.height - h + 1));
      return {cv::Rect(x, y, w, h)};
    }
  }
  // Fallback: the centre window at the nearest allowed aspect ratio.
  const double own = static_cast<double>(source.width) / source.height;
  int w = source.width, h = source.height;
  if (own < ratio_min) h = static_cast<int>(std::lround(w / ratio_min));
  if (own > ratio_max) w = static_cast<int>(std::lround(h * ratio_max));
  return {cv::Rect((source.width - w) / 2, (source.height - h) / 2, w, h)};
}

RandomResizedCrop::Draw RandomResizedCrop::eval(cv::Size source) const {
  const int side = std::max(
      1, static_cast<int>(std::lround(crop_fraction * std::min(source.width, source.height))));
  return {cv::Rect((source.width - side) / 2, (source.height - side) / 2, side, side)};
}

cv::Rect RandomResizedCrop::window(const Draw& d, cv::Size source) const {
  const cv::Rect window = d.window & cv::Rect({0, 0}, source);
  if (window.empty()) throw Error("random_resized_crop: the window lies outside the image");
  return window;
}

cv::Mat RandomResizedCrop::resize_window(const cv::Mat& pixels, const cv::Rect2d& area) const {
  return resize_crop(pixels, {size, size}, area);
}

void RandomResizedCrop::apply(const Draw& d, cv::Mat& image) const {
  image = resize_crop(image(window(d, image.size())), {size, size});
}

}  // namespace kiln::pipeline
