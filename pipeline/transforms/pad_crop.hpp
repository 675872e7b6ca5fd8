// PadCrop: the CIFAR augmentation (He et al. 2016 §4.2): pad `padding` pixels on every side, then
// cut a random window of the original size. Equivalently, shift the image by (dx, dy) drawn
// uniformly from [−padding, padding], filling what comes in with `fill`.
// Eval: no shift (the identity). The size is kept, so batches stay uniform.
// Options: padding ≥ 0 (default 4), fill in [0, 255] (default 0).
#pragma once

#include <opencv2/core.hpp>
#include <string_view>

#include "nn/json.hpp"
#include "nn/random.hpp"

namespace kiln::pipeline {

struct PadCrop {
  static constexpr std::string_view kName = "pad_crop";
  int padding = 4;
  int fill = 0;

  struct Draw {
    int dx = 0, dy = 0;  // the image moves right by dx and down by dy
    bool operator==(const Draw&) const = default;
  };

  PadCrop(int padding_pixels = 4, int fill_value = 0);
  Draw draw(cv::Size /*size*/, nn::Rng& rng) const {
    const int dx = static_cast<int>(rng.randint(-padding, padding + 1));
    return {dx, static_cast<int>(rng.randint(-padding, padding + 1))};
  }
  Draw eval(cv::Size /*size*/) const { return {}; }
  void apply(const Draw& d, cv::Mat& image) const;
  Json config() const { return {{"padding", padding}, {"fill", fill}}; }
};

}  // namespace kiln::pipeline
