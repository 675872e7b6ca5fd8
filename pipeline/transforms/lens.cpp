#include "pipeline/transforms/lens.hpp"

#include <cmath>
#include <opencv2/imgproc.hpp>

#include "nn/error.hpp"

namespace kiln::pipeline {

LensDistortion::LensDistortion(float k1_lo, float k1_hi, float k2_lo, float k2_hi, FillMode mode,
                               int fill_value)
    : k1_min(k1_lo),
      k1_max(k1_hi),
      k2_min(k2_lo),
      k2_max(k2_hi),
      fill_mode(mode),
      fill(fill_value) {
  validate();
}

LensDistortion LensDistortion::from_json(StageOptions& o) {
  LensDistortion t;
  o.read_range("k1_range", t.k1_min, t.k1_max);
  o.read_range("k2_range", t.k2_min, t.k2_max);
  read_fill(o, t.fill_mode, t.fill, "stage 'lens_distortion'");
  t.validate();
  return t;
}

void LensDistortion::validate() const {
  for (const auto& [lo, hi, name] :
       {std::tuple{k1_min, k1_max, "k1_range"}, std::tuple{k2_min, k2_max, "k2_range"}}) {
    if (!(lo >= -1.f && lo <= hi && hi <= 1.f)) {
      throw Error(std::string("lens_distortion: ") + name +
                  " must satisfy -1 <= lo <= hi <= 1, got [" + std::to_string(lo) + ", " +
                  std::to_string(hi) + "]");
    }
  }
  if (fill < 0 || fill > 255)
    throw Error("lens_distortion: fill must be in [0, 255], got " + std::to_string(fill));
}

void LensDistortion::apply(const Draw& d, cv::Mat& image) const {
  if (d == Draw{}) return;
  const int w = image.cols, h = image.rows;
  const double cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;
  const double norm = std::max(1e-9, std::hypot(cx, cy));  // radius 1 at the corners
  cv::Mat map_x(h, w, CV_32FC1), map_y(h, w, CV_32FC1);
  for (int y = 0; y < h; ++y) {
    float* mx = map_x.ptr<float>(y);
    float* my = map_y.ptr<float>(y);
    for (int x = 0; x < w; ++x) {
      const double u = (x - cx) / norm, v = (y - cy) / norm;
      const double r2 = u * u + v * v;
      const double scale = 1.0 + d.k1 * r2 + d.k2 * r2 * r2;
      mx[x] = static_cast<float>(cx + u * scale * norm);
      my[x] = static_cast<float>(cy + v * scale * norm);
    }
  }
  cv::Mat out;
  cv::remap(image, out, map_x, map_y, cv::INTER_LINEAR, border_type(fill_mode),
            cv::Scalar::all(fill));
  image = out;
}

}  // namespace kiln::pipeline
