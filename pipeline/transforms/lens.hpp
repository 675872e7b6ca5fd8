// LensDistortion: radial barrel and pincushion distortion (Brown–Conrady's radial terms) through
// one remap. For an output pixel at normalized radius r from the centre (r = 1 at the corners),
// the source is read at radius r·(1 + k1·r² + k2·r⁴):
//   k > 0 reads further out: content is pulled towards the centre (barrel);
//   k < 0 reads further in: content is pushed outwards (pincushion).
//   train: k1 ~ U(k1_range), k2 ~ U(k2_range);   eval: k1 = k2 = 0, the identity.
// Pixels read from outside the image come from fill_mode (transforms/fill_mode.hpp).
#pragma once

#include <opencv2/core.hpp>
#include <string_view>

#include "nn/json.hpp"
#include "nn/random.hpp"
#include "pipeline/stage_options.hpp"
#include "pipeline/transforms/fill_mode.hpp"

namespace kiln::pipeline {

struct LensDistortion {
  static constexpr std::string_view kName = "lens_distortion";
  static constexpr std::string_view kSummary =
      "radial barrel or pincushion distortion, k1 and k2 drawn from their ranges; eval: identity";
  static constexpr std::string_view kExample = R"({"k1_range": [-0.2, 0.2]})";
  float k1_min = -0.2f, k1_max = 0.2f;
  float k2_min = 0.f, k2_max = 0.f;
  FillMode fill_mode = FillMode::kReflect;
  int fill = 0;

  struct Draw {
    float k1 = 0.f, k2 = 0.f;
    bool operator==(const Draw&) const = default;
  };

  LensDistortion() = default;
  LensDistortion(float k1_lo, float k1_hi, float k2_lo, float k2_hi, FillMode mode, int fill_value);
  static LensDistortion from_json(StageOptions& options);
  Json to_json() const {
    return {{"k1_range", {k1_min, k1_max}},
            {"k2_range", {k2_min, k2_max}},
            {"fill_mode", fill_mode_name(fill_mode)},
            {"fill", fill}};
  }
  void validate() const;
  Draw draw(cv::Size /*size*/, nn::Rng& rng) const {
    const float k1 = rng.uniform(k1_min, k1_max);
    return {k1, rng.uniform(k2_min, k2_max)};
  }
  Draw eval(cv::Size /*size*/) const { return {}; }
  void apply(const Draw& d, cv::Mat& image) const;
};

}  // namespace kiln::pipeline
