// ScaleCrop: ResNet's scale augmentation (He et al. 2016 §3.4, from Simonyan & Zisserman 2015).
// clang-format off
//   train: resize so the short side is L, L drawn uniformly from the integers
//          [scale_min, scale_max], then cut a size×size window at a uniformly random position;
//   eval:  short side eval_scale (default: scale_min), the centre size×size window.
// clang-format on
// The window is cut in source coordinates and only it is resized (one pass, no full-size
// intermediate). Position: offset = floor(u · (free + 1)) with u in [0, 1), free = resized − size.
// Options: size (> 0), scale_range [min, max] with size <= min <= max, eval_scale >= size.
#pragma once

#include <opencv2/core.hpp>
#include <string_view>

#include "nn/json.hpp"
#include "nn/random.hpp"
#include "pipeline/stage_options.hpp"
#include "pipeline/view_hint.hpp"

namespace kiln::pipeline {

struct ScaleCrop {
  static constexpr std::string_view kName = "scale_crop";
  static constexpr std::string_view kSummary =
      "ResNet: short side resized to a random L in scale_range, a random size x size window; "
      "eval: short side eval_scale, the centre window";
  static constexpr std::string_view kExample = R"({"size": 224, "scale_range": [256, 480]})";
  int size = 224;
  int scale_min = 256, scale_max = 480;
  int eval_scale = 256;

  struct Draw {
    int short_side = 0;
    float u = 0.5f, v = 0.5f;  // window position in [0, 1): left-right, top-bottom
    bool operator==(const Draw&) const = default;
  };

  ScaleCrop() = default;
  ScaleCrop(int crop_size, int min_scale, int max_scale, int eval_short_side);
  static ScaleCrop from_json(StageOptions& options);
  Json to_json() const {
    return {{"size", size}, {"scale_range", {scale_min, scale_max}}, {"eval_scale", eval_scale}};
  }
  void validate() const;
  Draw draw(cv::Size /*size*/, nn::Rng& rng) const {
    const int side = static_cast<int>(rng.randint(scale_min, scale_max + 1));
    const float u = rng.uniform();
    return {side, u, rng.uniform()};
  }
  Draw eval(cv::Size /*size*/) const { return {eval_scale, 0.5f, 0.5f}; }
  void apply(const Draw& d, cv::Mat& image) const;
  cv::Rect window(const Draw& d, cv::Size source) const;  // the source pixels the crop keeps
  // Those pixels, at any scale, -> size x size; `area`: where the window lies in them.
  cv::Mat resize_window(const cv::Mat& pixels, const cv::Rect2d& area) const;
  cv::Size output_size(cv::Size /*input*/) const { return {size, size}; }
  ViewHint view_hint() const { return {eval_scale, std::pair{scale_min, scale_max}, {}, 0}; }
};

}  // namespace kiln::pipeline
