// HorizontalFlip / VerticalFlip: mirror the image left-right / top-bottom with probability p
// (train); never in eval. Options: p in [0, 1], default 0.5.
#pragma once

#include <opencv2/core.hpp>
#include <string_view>

#include "nn/json.hpp"
#include "nn/random.hpp"

namespace kiln::pipeline {

struct FlipDraw {
  bool flip = false;
  bool operator==(const FlipDraw&) const = default;
};

struct HorizontalFlip {
  static constexpr std::string_view kName = "horizontal_flip";
  using Draw = FlipDraw;
  float p = 0.5f;

  explicit HorizontalFlip(float probability = 0.5f);
  Draw draw(cv::Size /*size*/, nn::Rng& rng) const { return {rng.bernoulli(p)}; }
  Draw eval(cv::Size /*size*/) const { return {}; }
  void apply(const Draw& d, cv::Mat& image) const;
  Json config() const { return {{"p", p}}; }
};

struct VerticalFlip {
  static constexpr std::string_view kName = "vertical_flip";
  using Draw = FlipDraw;
  float p = 0.5f;

  explicit VerticalFlip(float probability = 0.5f);
  Draw draw(cv::Size /*size*/, nn::Rng& rng) const { return {rng.bernoulli(p)}; }
  Draw eval(cv::Size /*size*/) const { return {}; }
  void apply(const Draw& d, cv::Mat& image) const;
  Json config() const { return {{"p", p}}; }
};

}  // namespace kiln::pipeline
