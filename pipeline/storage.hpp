// Storage geometry: how `kiln preprocess` sizes images for a dataset — fixed size (short side
// resized, centre crop) or variable size (short side resized, long side capped) — and how
// evaluate and predict size new images the same way, from the record a model file keeps.
#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <string>

#include "nn/json.hpp"

namespace kiln::pipeline {

struct Storage {
  int channels = 3;                           // 1 (grey) or 3 (RGB)
  std::int64_t height = 0, width = 0;         // fixed size: both > 0; variable size: 0
  std::int64_t short_side = 0, max_side = 0;  // variable size: 0 keeps, resp. does not cap
  bool fixed() const { return height > 0 && width > 0; }
};

// Scale so both sides cover (height, width) — the short side fits — and keep the centre: the
// centre region is cut from the source and resized straight to the target. Area averaging when
// shrinking by more than 2x, bilinear otherwise.
cv::Mat resize_and_centre_crop(const cv::Mat& image, std::int64_t height, std::int64_t width);
// Its first half: the centre window of a `source`-sized image that is kept (the second is
// resize_crop of that window's pixels).
cv::Rect centre_crop_window(cv::Size source, std::int64_t height, std::int64_t width);

// Scale (aspect kept) so the short side is `short_side` (0: keep), then, if the long side exceeds
// `max_side` (> 0), so it is exactly that. Area averaging when shrinking by more than 2x.
cv::Mat resize_short_side(const cv::Mat& image, std::int64_t short_side, std::int64_t max_side);

// An image sized as `storage` says.
cv::Mat fit_to_storage(const cv::Mat& image, const Storage& storage);

// How a model's training data was stored, from the model file's preprocessing record ("input",
// "storage"). Throws kiln::Error naming `model_path` when the record is missing or malformed.
Storage storage_of_model(const Json& preprocessing, const std::string& model_path);

}  // namespace kiln::pipeline
