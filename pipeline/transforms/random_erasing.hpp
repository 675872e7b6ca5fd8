// RandomErasing: Zhong et al. 2017, "Random Erasing Data Augmentation" (Cutout, DeVries & Taylor
// 2017, is its fixed-size, always-on case), with torchvision's semantics.
//   train: with probability p, up to 10 tries: area fraction a ~ U(area_range), log aspect ratio
//          ~ U(log ratio_range); h = round(sqrt(a·A·ratio)), w = round(sqrt(a·A/ratio)); the first
//          rectangle strictly inside the image (h < H, w < W), at a uniform position, is filled.
//          No fit in 10 tries: the image is left as it is.
//   eval:  the identity.
// fill: "constant" (every channel = value), "random" (uniform noise in [0, 255], one value per
// pixel and channel, drawn from the sample's key) or "mean" (the image's own per-channel mean, so
// after channel normalization the rectangle is close to the data's average).
// Options: p in [0, 1] (0.5), area_range [lo, hi] in (0, 1] ([0.02, 0.33]), ratio_range
// [lo, hi] > 0 ([0.3, 3.3]), fill (constant), value in [0, 255] (0).
#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <string>
#include <string_view>

#include "nn/json.hpp"
#include "nn/random.hpp"
#include "pipeline/stage_options.hpp"

namespace kiln::pipeline {

struct RandomErasing {
  static constexpr std::string_view kName = "random_erasing";
  static constexpr std::string_view kSummary =
      "with probability p, fill a rectangle of random area and aspect ratio (constant, noise or "
      "the image mean); eval: identity";
  static constexpr std::string_view kExample = R"({"p": 0.5, "fill": "random"})";

  float p = 0.5f;
  float area_min = 0.02f, area_max = 0.33f;
  float ratio_min = 0.3f, ratio_max = 3.3f;
  std::string fill = "constant";  // constant | random | mean
  int value = 0;

  struct Draw {
    cv::Rect rect;                 // empty: nothing is erased
    std::uint64_t noise_seed = 0;  // fill "random": the noise's own generator
    bool operator==(const Draw&) const = default;
  };

  static RandomErasing from_json(StageOptions& options);
  Json to_json() const;
  void validate() const;

  Draw draw(cv::Size size, nn::Rng& rng) const;
  Draw eval(cv::Size /*size*/) const { return {}; }
  void apply(const Draw& d, cv::Mat& image) const;
};

}  // namespace kiln::pipeline
