// RandomResizedCrop: the Inception augmentation (Szegedy et al. 2015 §6; torchvision's semantics).
//   train: up to 10 tries: area fraction a ~ U(area_range), log aspect ratio ~ U(log ratio_range);
//          w = round(sqrt(a·A·ratio)), h = round(sqrt(a·A/ratio)); the first window that fits the
//          image, at a uniform position, wins. Fallback after 10 misses: the centre window at the
//          nearest allowed ratio (the whole image when its own ratio is allowed).
//   eval:  the centre square of side crop_fraction × short side (0.875 = 224/256, the usual
//          "resize to 256, centre crop 224").
//   Both then resize the window to size×size (area averaging when it shrinks by more than 2x).
// Options: size (> 0), area_range [lo, hi] in (0, 1], ratio_range [lo, hi] > 0, crop_fraction in
// (0, 1].
#pragma once

#include <cmath>
#include <opencv2/core.hpp>
#include <string_view>

#include "nn/json.hpp"
#include "nn/random.hpp"
#include "pipeline/stage_options.hpp"
#include "pipeline/view_hint.hpp"

namespace kiln::pipeline {

struct RandomResizedCrop {
  static constexpr std::string_view kName = "random_resized_crop";
  static constexpr std::string_view kSummary =
      "Inception: a window of random area and aspect ratio resized to size x size; eval: the "
      "centre square of crop_fraction x short side";
  static constexpr std::string_view kExample = R"({"size": 224})";
  int size = 224;
  float area_min = 0.08f, area_max = 1.f;
  float ratio_min = 3.f / 4.f, ratio_max = 4.f / 3.f;
  float crop_fraction = 0.875f;

  struct Draw {
    cv::Rect window;  // in source pixels
    bool operator==(const Draw&) const = default;
  };

  RandomResizedCrop() = default;
  RandomResizedCrop(int crop_size, float area_lo, float area_hi, float ratio_lo, float ratio_hi,
                    float fraction);
  static RandomResizedCrop from_json(StageOptions& options);
  Json to_json() const {
    return {{"size", size},
            {"area_range", {area_min, area_max}},
            {"ratio_range", {ratio_min, ratio_max}},
            {"crop_fraction", crop_fraction}};
  }
  void validate() const;
  Draw draw(cv::Size source, nn::Rng& rng) const;
  Draw eval(cv::Size source) const;
  void apply(const Draw& d, cv::Mat& image) const;
  cv::Rect window(const Draw& d, cv::Size source) const;  // the source pixels the crop keeps
  // Those pixels, at any scale, -> size x size; `area`: where the window lies in them.
  cv::Mat resize_window(const cv::Mat& pixels, const cv::Rect2d& area) const;
  cv::Size output_size(cv::Size /*input*/) const { return {size, size}; }
  // The eval crop's square is crop_fraction of the short side: that short side is size / it.
  ViewHint view_hint() const {
    return {static_cast<int>(std::lround(static_cast<double>(size) / crop_fraction)), {}, {}, 0};
  }
};

}  // namespace kiln::pipeline
