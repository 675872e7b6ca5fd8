// ColorJitter: brightness, contrast and saturation, each scaled by a factor drawn uniformly from
// [1 − x, 1 + x] (torchvision's semantics), applied in a fixed order — brightness, contrast,
// saturation — so a Draw fully determines the result (fb.resnet.torch shuffles the order; kiln
// keeps it fixed and documented here).
//   brightness: v ← b·v
//   contrast:   v ← c·v + (1 − c)·mean(grey)          (grey = 0.299 R + 0.587 G + 0.114 B)
//   saturation: v ← s·v + (1 − s)·grey(pixel)        (colour images only)
// Results are rounded and clamped to [0, 255]. Eval: all factors 1 (the identity).
// Options: brightness, contrast, saturation in [0, 1] (0.4 each, as the ResNet recipe).
#pragma once

#include <opencv2/core.hpp>
#include <string_view>

#include "nn/json.hpp"
#include "nn/random.hpp"
#include "pipeline/stage_options.hpp"

namespace kiln::pipeline {

struct ColorJitter {
  static constexpr std::string_view kName = "color_jitter";
  static constexpr std::string_view kSummary =
      "brightness, contrast and saturation factors from [1 - x, 1 + x], in that order; eval: "
      "identity";
  static constexpr std::string_view kExample = R"({"brightness": 0.4, "contrast": 0.4})";
  float brightness = 0.4f, contrast = 0.4f, saturation = 0.4f;

  struct Draw {
    float brightness = 1.f, contrast = 1.f, saturation = 1.f;
    bool operator==(const Draw&) const = default;
  };

  ColorJitter() = default;
  ColorJitter(float brightness_range, float contrast_range, float saturation_range);
  static ColorJitter from_json(StageOptions& options);
  Json to_json() const {
    return {{"brightness", brightness}, {"contrast", contrast}, {"saturation", saturation}};
  }
  void validate() const;
  Draw draw(cv::Size /*size*/, nn::Rng& rng) const {
    const float b = rng.uniform(1.f - brightness, 1.f + brightness);
    const float c = rng.uniform(1.f - contrast, 1.f + contrast);
    return {b, c, rng.uniform(1.f - saturation, 1.f + saturation)};
  }
  Draw eval(cv::Size /*size*/) const { return {}; }
  void apply(const Draw& d, cv::Mat& image) const;
};

}  // namespace kiln::pipeline
