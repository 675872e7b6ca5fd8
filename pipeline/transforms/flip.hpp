// HorizontalFlip: mirror the image left-right with probability p (train); never in eval.
// Options: p in [0, 1], default 0.5.
#pragma once

#include <opencv2/core.hpp>
#include <string_view>

#include "nn/json.hpp"
#include "nn/random.hpp"

namespace kiln::pipeline {

struct HorizontalFlip {
  static constexpr std::string_view kName = "horizontal_flip";
  float p = 0.5f;

  struct Draw {
    bool flip = false;
  };

  explicit HorizontalFlip(float probability = 0.5f);
  Draw draw(cv::Size /*size*/, nn::Rng& rng) const { return {rng.bernoulli(p)}; }
  Draw eval(cv::Size /*size*/) const { return {}; }
  void apply(const Draw& d, cv::Mat& image) const;
  Json config() const { return {{"p", p}}; }
};

}  // namespace kiln::pipeline
