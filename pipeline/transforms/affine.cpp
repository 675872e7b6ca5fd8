#include "pipeline/transforms/affine.hpp"

#include <cmath>
#include <numbers>
#include <opencv2/imgproc.hpp>

#include "nn/error.hpp"

namespace kiln::pipeline {

Affine::Affine(float rotation_degrees, float width_shift_fraction, float height_shift_fraction,
               float shear_degrees, float zoom_lo, float zoom_hi, FillMode mode, int fill_value)
    : rotation(rotation_degrees),
      width_shift(width_shift_fraction),
      height_shift(height_shift_fraction),
      shear(shear_degrees),
      zoom_min(zoom_lo),
      zoom_max(zoom_hi),
      fill_mode(mode),
      fill(fill_value) {
  validate();
}

Affine Affine::from_json(StageOptions& o) {
  Affine t;
  o.read("rotation", t.rotation);
  o.read("width_shift", t.width_shift);
  o.read("height_shift", t.height_shift);
  o.read("shear", t.shear);
  o.read_range("zoom_range", t.zoom_min, t.zoom_max);
  read_fill(o, t.fill_mode, t.fill, "stage 'affine'");
  t.validate();
  return t;
}

void Affine::validate() const {
  if (!(rotation >= 0.f && rotation <= 180.f))
    throw Error("affine: rotation must be in [0, 180] degrees, got " + std::to_string(rotation));
  for (const float s : {width_shift, height_shift}) {
    if (!(s >= 0.f && s <= 1.f))
      throw Error("affine: width_shift and height_shift must be in [0, 1], got " +
                  std::to_string(s));
  }
  if (!(shear >= 0.f && shear < 90.f))
    throw Error("affine: shear must be in [0, 90) degrees, got " + std::to_string(shear));
  if (!(zoom_min > 0.f && zoom_min <= zoom_max && zoom_max <= 10.f)) {
    throw Error("affine: zoom_range must satisfy 0 < lo <= hi <= 10, got [" +
                std::to_string(zoom_min) + ", " + std::to_string(zoom_max) + "]");
  }
  if (fill < 0 || fill > 255)
    throw Error("affine: fill must be in [0, 255], got " + std::to_string(fill));
}

cv::Matx23d Affine::matrix(const Draw& d, cv::Size size) {
  const double a = d.angle * std::numbers::pi / 180.0, s = d.shear * std::numbers::pi / 180.0;
  // Exact for multiples of 90°: sin/cos of π/2 are not exactly 0 and 1 in floating point.
  auto snap = [](double v) {
    return std::abs(v) < 1e-12       ? 0.0
           : std::abs(v - 1) < 1e-12 ? 1.0
           : std::abs(v + 1) < 1e-12 ? -1.0
                                     : v;
  };
  const double c = snap(std::cos(a)), n = snap(std::sin(a));
  const cv::Matx22d rotate(c, -n, n, c);
  const cv::Matx22d shear_x(1, -std::sin(s), 0, std::cos(s));  // Keras' shear matrix
  const cv::Matx22d zoom(d.zx, 0, 0, d.zy);
  const cv::Matx22d linear = rotate * shear_x * zoom;
  const cv::Vec2d centre((size.width - 1) / 2.0, (size.height - 1) / 2.0);
  const cv::Vec2d offset = centre + cv::Vec2d(d.tx, d.ty) - linear * centre;
  return {linear(0, 0), linear(0, 1), offset[0], linear(1, 0), linear(1, 1), offset[1]};
}

void Affine::apply(const Draw& d, cv::Mat& image) const {
  if (d == Draw{}) return;
  cv::Mat out;
  cv::warpAffine(image, out, cv::Mat(matrix(d, image.size())), image.size(), cv::INTER_LINEAR,
                 border_type(fill_mode), cv::Scalar::all(fill));
  image = out;
}

}  // namespace kiln::pipeline
