// HorizontalFlip / VerticalFlip: mirror the image left-right / top-bottom with probability p
// (train); never in eval. Options: p in [0, 1].
#pragma once

#include <opencv2/core.hpp>
#include <string_view>

#include "nn/json.hpp"
#include "nn/random.hpp"
#include "pipeline/stage_options.hpp"

namespace kiln::pipeline {

struct FlipDraw {
  bool flip = false;
  bool operator==(const FlipDraw&) const = default;
};

struct HorizontalFlip {
  static constexpr std::string_view kName = "horizontal_flip";
  static constexpr std::string_view kSummary =
      "mirror left-right with probability p; eval: identity";
  static constexpr std::string_view kExample = R"({"p": 0.5})";
  using Draw = FlipDraw;
  float p = 0.5f;

  HorizontalFlip() = default;
  explicit HorizontalFlip(float probability);
  static HorizontalFlip from_json(StageOptions& options);
  Json to_json() const { return {{"p", p}}; }
  void validate() const;
  Draw draw(cv::Size /*size*/, nn::Rng& rng) const { return {rng.bernoulli(p)}; }
  Draw eval(cv::Size /*size*/) const { return {}; }
  void apply(const Draw& d, cv::Mat& image) const;
};

struct VerticalFlip {
  static constexpr std::string_view kName = "vertical_flip";
  static constexpr std::string_view kSummary =
      "mirror top-bottom with probability p; eval: identity";
  static constexpr std::string_view kExample = R"({"p": 0.5})";
  using Draw = FlipDraw;
  float p = 0.5f;

  VerticalFlip() = default;
  explicit VerticalFlip(float probability);
  static VerticalFlip from_json(StageOptions& options);
  Json to_json() const { return {{"p", p}}; }
  void validate() const;
  Draw draw(cv::Size /*size*/, nn::Rng& rng) const { return {rng.bernoulli(p)}; }
  Draw eval(cv::Size /*size*/) const { return {}; }
  void apply(const Draw& d, cv::Mat& image) const;
};

}  // namespace kiln::pipeline
