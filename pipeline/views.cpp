#include "pipeline/views.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "nn/error.hpp"

namespace kiln::pipeline {

namespace {

cv::Size scaled_size(cv::Size size, int short_side) {
  if (short_side == 0) return size;
  const double scale = static_cast<double>(short_side) / std::min(size.width, size.height);
  // The short side is exactly `short_side`; the long one is rounded.
  return size.width <= size.height
             ? cv::Size(short_side, static_cast<int>(std::lround(size.height * scale)))
             : cv::Size(static_cast<int>(std::lround(size.width * scale)), short_side);
}

// Top-left, top-right, bottom-left, bottom-right, centre: the order of Caffe's oversample and
// torchvision's five_crop.
std::vector<cv::Rect> windows(cv::Size image, cv::Size crop, int crops) {
  const int right = image.width - crop.width, bottom = image.height - crop.height;
  const cv::Rect centre(right / 2, bottom / 2, crop.width, crop.height);
  if (crops == 1) return {centre};
  return {cv::Rect(0, 0, crop.width, crop.height), cv::Rect(right, 0, crop.width, crop.height),
          cv::Rect(0, bottom, crop.width, crop.height),
          cv::Rect(right, bottom, crop.width, crop.height), centre};
}

}  // namespace

std::string ViewOptions::describe() const {
  std::string text = std::to_string(crops) + (crops == 1 ? " crop " : " crops ") +
                     std::to_string(crop.width) + "x" + std::to_string(crop.height);
  if (!scales.empty()) {
    text += " at short side";
    for (std::size_t i = 0; i < scales.size(); ++i) {
      text += (i == 0 ? " " : ", ") + std::to_string(scales[i]);
    }
  }
  if (padding > 0) text += ", padding " + std::to_string(padding);
  return text;
}

bool is_crop_count(int crops) {
  return std::find(std::begin(kCropCounts), std::end(kCropCounts), crops) != std::end(kCropCounts);
}

void check_view_request(const ViewRequest& r) {
  if (!is_crop_count(r.crops)) {
    throw ConfigError("crops must be 1, 5 or 10, got " + std::to_string(r.crops));
  }
  for (const int s : r.scales) {
    if (s <= 0) throw ConfigError("scales must be positive, got " + std::to_string(s));
  }
  if (r.auto_scales && !r.scales.empty()) {
    throw ConfigError("scales: give short sides or auto, not both");
  }
  if (r.padding < -1) {
    throw ConfigError("padding must be >= 0 (or -1: the model's default), got " +
                      std::to_string(r.padding));
  }
}

void check_view_options(const ViewOptions& o) {
  if (!is_crop_count(o.crops)) {
    throw Error("views: crops must be 1, 5 or 10, got " + std::to_string(o.crops));
  }
  if (o.crop.width <= 0 || o.crop.height <= 0) {
    throw Error("views: the crop size must be positive, got " + std::to_string(o.crop.width) + "x" +
                std::to_string(o.crop.height));
  }
  for (const int s : o.scales) {
    if (s <= 0) throw Error("views: scales must be positive, got " + std::to_string(s));
  }
  if (o.padding < 0) throw Error("views: padding must be >= 0, got " + std::to_string(o.padding));
  if (o.fill < 0 || o.fill > 255) {
    throw Error("views: fill must be in [0, 255], got " + std::to_string(o.fill));
  }
}

std::vector<View> plan_views(cv::Size size, const ViewOptions& o) {
  check_view_options(o);
  const std::vector<int> scales = o.scales.empty() ? std::vector<int>{0} : o.scales;
  std::vector<View> plan;
  plan.reserve(static_cast<std::size_t>(o.views_per_image()));
  for (const int scale : scales) {
    const cv::Size resized = scaled_size(size, scale);
    const cv::Size padded(resized.width + 2 * o.padding, resized.height + 2 * o.padding);
    if (o.crop.width > padded.width || o.crop.height > padded.height) {
      throw Error("views: a " + std::to_string(o.crop.width) + "x" + std::to_string(o.crop.height) +
                  " crop does not fit the " + std::to_string(size.width) + "x" +
                  std::to_string(size.height) + " image " +
                  (scale > 0 ? "resized to short side " + std::to_string(scale) + " (" +
                                   std::to_string(resized.width) + "x" +
                                   std::to_string(resized.height) + ")"
                             : std::string("as stored")) +
                  "; use scales at least as large as the crop");
    }
    const auto cut = windows(padded, o.crop, o.crops);
    for (const cv::Rect& w : cut) plan.push_back({scale, w, false});
    if (o.crops == 10) {
      for (const cv::Rect& w : cut) plan.push_back({scale, w, true});
    }
  }
  return plan;
}

void make_views(const cv::Mat& image, const ViewOptions& o, std::vector<cv::Mat>& views) {
  const std::vector<View> plan = plan_views(image.size(), o);
  views.clear();
  views.reserve(plan.size());
  cv::Mat prepared;
  int prepared_scale = -1;
  for (const View& view : plan) {
    if (view.scale != prepared_scale) {
      cv::Mat resized = image;
      if (view.scale > 0) {
        const cv::Size target = scaled_size(image.size(), view.scale);
        if (target != image.size()) {
          const bool shrinks_a_lot = target.width * 2 < image.cols;
          cv::resize(image, resized, target, 0, 0,
                     shrinks_a_lot ? cv::INTER_AREA : cv::INTER_LINEAR);
        }
      }
      if (o.padding > 0) {
        cv::copyMakeBorder(resized, prepared, o.padding, o.padding, o.padding, o.padding,
                           cv::BORDER_CONSTANT, cv::Scalar::all(o.fill));
      } else {
        prepared = resized;
      }
      prepared_scale = view.scale;
    }
    cv::Mat out;
    if (view.mirror) {
      cv::flip(prepared(view.window), out, 1);
    } else {
      out = prepared(view.window).clone();
    }
    views.push_back(std::move(out));
  }
}

}  // namespace kiln::pipeline
