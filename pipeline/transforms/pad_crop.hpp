// PadCrop: the CIFAR augmentation (He et al. 2016 §4.2): pad `padding` pixels on every side, then
// cut a random window of the original size. Equivalently, shift the image by (dx, dy) drawn
// uniformly from [−padding, padding], filling what comes in with `fill`.
// Eval: no shift (the identity). The size is kept, so batches stay uniform.
// Options: padding >= 0, fill in [0, 255].
#pragma once

#include <opencv2/core.hpp>
#include <string_view>

#include "nn/json.hpp"
#include "nn/random.hpp"
#include "pipeline/stage_options.hpp"
#include "pipeline/view_hint.hpp"

namespace kiln::pipeline {

struct PadCrop {
  static constexpr std::string_view kName = "pad_crop";
  static constexpr std::string_view kSummary =
      "pad, then a random crop of the original size (CIFAR's augmentation); eval: identity";
  static constexpr std::string_view kExample = R"({"padding": 4})";
  int padding = 4;
  int fill = 0;

  struct Draw {
    int dx = 0, dy = 0;  // the image moves right by dx and down by dy
    bool operator==(const Draw&) const = default;
  };

  PadCrop() = default;
  PadCrop(int padding_pixels, int fill_value);
  static PadCrop from_json(StageOptions& options);
  Json to_json() const { return {{"padding", padding}, {"fill", fill}}; }
  void validate() const;
  Draw draw(cv::Size /*size*/, nn::Rng& rng) const {
    const int dx = static_cast<int>(rng.randint(-padding, padding + 1));
    return {dx, static_cast<int>(rng.randint(-padding, padding + 1))};
  }
  Draw eval(cv::Size /*size*/) const { return {}; }
  void apply(const Draw& d, cv::Mat& image) const;
  ViewHint view_hint() const { return {{}, {}, padding, fill}; }
};

}  // namespace kiln::pipeline
