#include "pipeline/storage.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "nn/error.hpp"
#include "pipeline/transforms/resize_crop.hpp"

namespace kiln::pipeline {

cv::Rect centre_crop_window(cv::Size source, std::int64_t height, std::int64_t width) {
  // The scale at which the short side fits; the crop is taken in source coordinates first, so only
  // the pixels that are kept get resized (one pass, straight to the target size).
  const double scale = std::max(static_cast<double>(height) / source.height,
                                static_cast<double>(width) / source.width);
  const int roi_h =
      std::min(source.height, static_cast<int>(std::lround(static_cast<double>(height) / scale)));
  const int roi_w =
      std::min(source.width, static_cast<int>(std::lround(static_cast<double>(width) / scale)));
  return {(source.width - roi_w) / 2, (source.height - roi_h) / 2, roi_w, roi_h};
}

cv::Mat resize_and_centre_crop(const cv::Mat& image, std::int64_t height, std::int64_t width) {
  return resize_crop(image(centre_crop_window(image.size(), height, width)),
                     {static_cast<int>(width), static_cast<int>(height)});
}

cv::Mat resize_short_side(const cv::Mat& image, std::int64_t short_side, std::int64_t max_side) {
  double scale = 1.0;
  const int short_now = std::min(image.cols, image.rows),
            long_now = std::max(image.cols, image.rows);
  if (short_side > 0) scale = static_cast<double>(short_side) / short_now;
  if (max_side > 0 && long_now * scale > static_cast<double>(max_side)) {
    scale = static_cast<double>(max_side) / long_now;
  }
  if (scale == 1.0) return image;
  const cv::Size target(std::max(1, static_cast<int>(std::lround(image.cols * scale))),
                        std::max(1, static_cast<int>(std::lround(image.rows * scale))));
  cv::Mat out;
  cv::resize(image, out, target, 0, 0, scale < 0.5 ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
}

Storage storage_of_model(const Json& pre, const std::string& model_path) {
  if (!pre.contains("normalization") || !pre.contains("input")) {
    throw Error(model_path +
                ": the model file has no preprocessing record; re-train it with kiln train");
  }
  const Json& input = pre.at("input");  // the dataset's (C, H, W); H = W = 0 for variable size
  if (!input.is_array() || input.size() != 3 ||
      !std::all_of(input.begin(), input.end(),
                   [](const Json& v) { return v.is_number_integer(); })) {
    throw Error(model_path + ": malformed preprocessing input " + input.dump());
  }
  Storage o;
  o.channels = input[0].get<int>();
  o.height = input[1].get<std::int64_t>();
  o.width = input[2].get<std::int64_t>();
  if (o.height == 0) {
    const Json storage = pre.value("storage", Json::object());
    o.short_side = storage.value("short_side", std::int64_t{0});
    o.max_side = storage.value("max_side", std::int64_t{0});
  }
  return o;
}

cv::Mat fit_to_storage(const cv::Mat& image, const Storage& storage) {
  return storage.fixed() ? resize_and_centre_crop(image, storage.height, storage.width)
                         : resize_short_side(image, storage.short_side, storage.max_side);
}

}  // namespace kiln::pipeline
