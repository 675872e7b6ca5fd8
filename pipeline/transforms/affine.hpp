// Affine: Keras' ImageDataGenerator geometry — rotation, width/height shift, shear and zoom with
// independent x and y factors ("stretching") — composed into one matrix and applied with one
// bilinear warp, so the image is resampled once whatever the combination.
//   train: angle ~ U(−rotation, rotation) degrees, shear ~ U(−shear, shear) degrees,
//          tx ~ U(−width_shift, width_shift)·W, ty ~ U(−height_shift, height_shift)·H,
//          zx, zy ~ U(zoom_range) independently (zoom > 1 enlarges the content; Keras' zoom z
//          shrinks it, so Keras' [0.8, 1.2] is roughly kiln's [0.83, 1.25]).
//   eval:  the identity.
// The matrix maps output to source pixel centres about the image centre c = ((W−1)/2, (H−1)/2):
//   p_out = c + t + R(angle)·Shear(shear)·Zoom(zx, zy)·(p_src − c)
// so a 90° rotation of a square image moves every pixel exactly. Pixels from outside the image
// come from fill_mode (transforms/fill_mode.hpp), with fill for "constant".
#pragma once

#include <opencv2/core.hpp>
#include <string_view>

#include "nn/json.hpp"
#include "nn/random.hpp"
#include "pipeline/stage_options.hpp"
#include "pipeline/transforms/fill_mode.hpp"

namespace kiln::pipeline {

struct Affine {
  static constexpr std::string_view kName = "affine";
  static constexpr std::string_view kSummary =
      "Keras' geometry: rotation, shifts, shear and zoom in one warp, gaps from fill_mode; eval: "
      "identity";
  static constexpr std::string_view kExample =
      R"({"rotation": 15, "width_shift": 0.1, "height_shift": 0.1, "zoom_range": [0.9, 1.1]})";
  float rotation = 0.f;                         // degrees
  float width_shift = 0.f, height_shift = 0.f;  // fractions of the width and height
  float shear = 0.f;                            // degrees
  float zoom_min = 1.f, zoom_max = 1.f;
  FillMode fill_mode = FillMode::kConstant;
  int fill = 0;

  struct Draw {
    float angle = 0.f, shear = 0.f;  // degrees
    float tx = 0.f, ty = 0.f;        // pixels
    float zx = 1.f, zy = 1.f;
    bool operator==(const Draw&) const = default;
  };

  Affine() = default;
  Affine(float rotation_degrees, float width_shift_fraction, float height_shift_fraction,
         float shear_degrees, float zoom_lo, float zoom_hi, FillMode mode, int fill_value);
  static Affine from_json(StageOptions& options);
  Json to_json() const {
    return {{"rotation", rotation},
            {"width_shift", width_shift},
            {"height_shift", height_shift},
            {"shear", shear},
            {"zoom_range", {zoom_min, zoom_max}},
            {"fill_mode", fill_mode_name(fill_mode)},
            {"fill", fill}};
  }
  void validate() const;
  Draw draw(cv::Size size, nn::Rng& rng) const {
    Draw d;
    d.angle = rng.uniform(-rotation, rotation);
    d.shear = rng.uniform(-shear, shear);
    d.tx = rng.uniform(-width_shift, width_shift) * static_cast<float>(size.width);
    d.ty = rng.uniform(-height_shift, height_shift) * static_cast<float>(size.height);
    d.zx = rng.uniform(zoom_min, zoom_max);
    d.zy = rng.uniform(zoom_min, zoom_max);
    return d;
  }
  Draw eval(cv::Size /*size*/) const { return {}; }
  void apply(const Draw& d, cv::Mat& image) const;
  // The 2×3 matrix from source to output pixel coordinates (for tests and previews).
  static cv::Matx23d matrix(const Draw& d, cv::Size size);
};

}  // namespace kiln::pipeline
