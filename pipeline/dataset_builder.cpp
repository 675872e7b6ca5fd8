#include "pipeline/dataset_builder.hpp"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <opencv2/imgproc.hpp>

#include "io/dataset_writer.hpp"
#include "io/decode.hpp"
#include "nn/error.hpp"

namespace kiln::pipeline {

cv::Mat resize_and_centre_crop(const cv::Mat& image, std::int64_t height, std::int64_t width) {
  const double scale =
      std::max(static_cast<double>(height) / image.rows, static_cast<double>(width) / image.cols);
  // Round, but never below the target: the crop must fit.
  const int h =
      std::max(static_cast<int>(height), static_cast<int>(std::lround(image.rows * scale)));
  const int w =
      std::max(static_cast<int>(width), static_cast<int>(std::lround(image.cols * scale)));
  cv::Mat resized = image;
  if (h != image.rows || w != image.cols) {
    cv::resize(image, resized, cv::Size(w, h), 0, 0,
               scale < 1.0 ? cv::INTER_AREA : cv::INTER_LINEAR);
  }
  const int top = (h - static_cast<int>(height)) / 2, left = (w - static_cast<int>(width)) / 2;
  cv::Mat crop = resized(cv::Rect(left, top, static_cast<int>(width), static_cast<int>(height)));
  return crop.isContinuous() ? crop : crop.clone();
}

BuildSummary build_dataset(const io::ImageIndex& index, const BuildOptions& o,
                           const std::function<void(std::int64_t, std::int64_t)>& progress) {
  if (o.height <= 0 || o.width <= 0) throw Error("--size must be HxW with positive sides");
  if (o.channels != 1 && o.channels != 3)
    throw Error("--channels must be 1 or 3, got " + std::to_string(o.channels));
  io::DatasetSpec spec;
  spec.height = o.height;
  spec.width = o.width;
  spec.channels = o.channels;
  spec.class_names = index.class_names;
  spec.source = o.source;
  spec.command_line = o.command_line;
  spec.gzip_level = o.gzip_level;
  io::DatasetWriter writer(o.output_path, spec);

  BuildSummary summary;
  for (const auto& w : index.warnings) writer.record_skipped(w);
  const auto total = static_cast<std::int64_t>(index.paths.size());
  const std::int64_t image_bytes = o.height * o.width * o.channels;
  io::DecodeOptions decode;
  decode.channels = o.channels;
  decode.max_pixels = o.max_pixels;
  decode.min_short_side = static_cast<int>(std::max(o.height, o.width));

  struct Slot {
    std::vector<std::uint8_t> pixels;
    std::string reason;
  };
  std::vector<Slot> slots(static_cast<std::size_t>(std::min(o.block, total)));
  std::vector<std::uint8_t> images;
  std::vector<std::int32_t> labels;
  for (std::int64_t first = 0; first < total; first += o.block) {
    const std::int64_t count = std::min(o.block, total - first);
    tbb::parallel_for(std::int64_t{0}, count, [&](std::int64_t i) {
      Slot& slot = slots[static_cast<std::size_t>(i)];
      slot.reason.clear();
      const std::string& path = index.paths[static_cast<std::size_t>(first + i)];
      std::vector<std::uint8_t> bytes;
      std::string error;
      if (!io::read_file(path, bytes, error)) {
        slot.reason = "unreadable: " + error;
        return;
      }
      io::DecodeResult decoded = io::decode_image(bytes, decode);
      if (!decoded.ok()) {
        slot.reason = decoded.reason + ": " + decoded.detail;
        return;
      }
      try {
        const cv::Mat fitted = resize_and_centre_crop(decoded.image, o.height, o.width);
        slot.pixels.assign(fitted.data, fitted.data + image_bytes);
      } catch (const cv::Exception& e) {
        slot.reason = std::string("corrupt: resize failed: ") + e.what();
      }
    });
    // Written in index order, whatever order the tasks ran in.
    images.clear();
    labels.clear();
    for (std::int64_t i = 0; i < count; ++i) {
      const Slot& slot = slots[static_cast<std::size_t>(i)];
      const std::string& path = index.paths[static_cast<std::size_t>(first + i)];
      if (!slot.reason.empty()) {
        if (o.on_error == OnError::kFail) {
          throw Error(path + ": " + slot.reason +
                      " (--on-error fail; use --on-error skip to leave it out)");
        }
        summary.skipped.push_back({path, slot.reason});
        writer.record_skipped({path, slot.reason});
        continue;
      }
      images.insert(images.end(), slot.pixels.begin(), slot.pixels.end());
      labels.push_back(index.labels[static_cast<std::size_t>(first + i)]);
    }
    if (!labels.empty()) writer.append(images, labels);
    summary.written += static_cast<std::int64_t>(labels.size());
    if (progress) progress(first + count, total);
  }
  if (summary.written == 0) {
    throw Error(o.output_path + ": none of the " + std::to_string(total) +
                " inputs could be read; first: " +
                (summary.skipped.empty()
                     ? std::string("-")
                     : summary.skipped[0].path + ": " + summary.skipped[0].reason));
  }
  writer.commit();
  return summary;
}

}  // namespace kiln::pipeline
