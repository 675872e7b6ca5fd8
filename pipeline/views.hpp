// Multi-crop test views: ResNet's protocol (He et al. 2016, §3.4) and AlexNet's ten crops
// (Krizhevsky et al. 2012, §4.1). For each scale s the image is resized so its short side is s
// (aspect ratio kept), optionally padded by `padding` pixels of `fill` on every side, and cut into
// windows of the crop size:
//    1 view:   the centre
//    5 views:  top-left, top-right, bottom-left, bottom-right, centre
//    10 views: those five, then the same five mirrored left-right
// Views come scale-major, in that window order. The views of one image form one group, which the
// evaluator averages (pipeline/evaluator.hpp).
//
// Padding exists for small images whose stored size already equals the crop (Fashion-MNIST,
// CIFAR): there the corners would coincide with the centre; padded, they become the ±padding
// shifts that pad_crop trained on.
#pragma once

#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace kiln::pipeline {

// What a caller asks of test-time views (kiln evaluate and predict, the Python Model); the model
// supplies the rest (default_views, pipeline/inference/evaluator.hpp). Checked once, by
// check_view_request.
struct ViewRequest {
  int crops = 1;              // views per scale: 1 (the model's eval stages), 5 or 10
  std::vector<int> scales{};  // short sides; empty: the model's eval scale, else the stored size
  bool auto_scales = false;   // instead: the spread of the model's training scale_crop range
  int padding = -1;           // pixels around each scaled image; -1: the model's default
};

// The view counts per scale kiln knows: the centre; corners + centre; and their mirrors.
inline constexpr int kCropCounts[] = {1, 5, 10};
bool is_crop_count(int crops);

// Throws kiln::ConfigError naming the field (crops, scales, padding) that is out of range.
void check_view_request(const ViewRequest& request);

struct ViewOptions {
  int crops = 1;            // one of kCropCounts
  std::vector<int> scales;  // short side per scale; empty: the image as it is
  cv::Size crop;            // (W, H) of every view
  int padding = 0;          // pixels added on each side after the resize
  int fill = 0;             // value of the padding, in [0, 255]

  int views_per_image() const {
    return crops * static_cast<int>(scales.empty() ? 1 : scales.size());
  }
  std::string describe() const;  // "10 crops 28x28 at scales {32, 36}, padding 2"
};

struct View {
  int scale = 0;    // short side the image was resized to (0: not resized)
  cv::Rect window;  // in the resized and padded image
  bool mirror = false;
};

// Throws kiln::Error for crops other than 1/5/10, a non-positive scale or crop, negative padding.
void check_view_options(const ViewOptions& options);

// The views of an image of `size`, in order. Throws kiln::Error naming the sizes when the crop does
// not fit a scaled (and padded) image.
std::vector<View> plan_views(cv::Size size, const ViewOptions& options);

// Cuts the planned views out of `image` (any channel count). Each output owns its pixels.
void make_views(const cv::Mat& image, const ViewOptions& options, std::vector<cv::Mat>& views);

}  // namespace kiln::pipeline
