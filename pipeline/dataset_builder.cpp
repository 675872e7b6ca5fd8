#include "pipeline/dataset_builder.hpp"

#include <tbb/parallel_for.h>
#include <tbb/task_group.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <opencv2/imgproc.hpp>

#include "io/dataset_writer.hpp"
#include "io/decode.hpp"
#include "nn/error.hpp"

namespace kiln::pipeline {

cv::Mat resize_and_centre_crop(const cv::Mat& image, std::int64_t height, std::int64_t width) {
  // The scale at which the short side fits; the crop is taken in source coordinates first, so only
  // the pixels that are kept get resized (one pass, straight to the target size).
  const double scale =
      std::max(static_cast<double>(height) / image.rows, static_cast<double>(width) / image.cols);
  const int roi_h =
      std::min(image.rows, static_cast<int>(std::lround(static_cast<double>(height) / scale)));
  const int roi_w =
      std::min(image.cols, static_cast<int>(std::lround(static_cast<double>(width) / scale)));
  const cv::Mat roi =
      image(cv::Rect((image.cols - roi_w) / 2, (image.rows - roi_h) / 2, roi_w, roi_h));
  const cv::Size target(static_cast<int>(width), static_cast<int>(height));
  if (roi.size() == target) return roi.isContinuous() ? roi : roi.clone();
  // Area averaging where a pixel shrinks by more than half (aliasing), bilinear otherwise: JPEG
  // DCT scaling has usually done the big step already, and OpenCV's fractional area path is slow.
  cv::Mat out;
  cv::resize(roi, out, target, 0, 0, scale < 0.5 ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
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
  spec.split = o.split;
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
  struct Block {
    std::vector<Slot> slots;
    std::vector<std::uint8_t> images;  // the block's good images, in index order
    std::vector<std::int32_t> labels;
  };
  // Two blocks: one decodes while the other is written (HDF5 and the statistics are serial).
  Block blocks[2];
  for (Block& b : blocks) b.slots.resize(static_cast<std::size_t>(std::min(o.block, total)));
  tbb::task_group writing;
  try {
    int current = 0;
    for (std::int64_t first = 0; first < total; first += o.block, current ^= 1) {
      Block& block = blocks[current];
      const std::int64_t count = std::min(o.block, total - first);
      tbb::parallel_for(std::int64_t{0}, count, [&](std::int64_t i) {
        Slot& slot = block.slots[static_cast<std::size_t>(i)];
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
      writing.wait();  // the other block is written: its buffers and the writer are free
      // In index order, whatever order the decode tasks ran in.
      block.images.clear();
      block.labels.clear();
      for (std::int64_t i = 0; i < count; ++i) {
        const Slot& slot = block.slots[static_cast<std::size_t>(i)];
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
        block.images.insert(block.images.end(), slot.pixels.begin(), slot.pixels.end());
        block.labels.push_back(index.labels[static_cast<std::size_t>(first + i)]);
      }
      summary.written += static_cast<std::int64_t>(block.labels.size());
      if (!block.labels.empty())
        writing.run([&writer, &block] { writer.append(block.images, block.labels); });
      if (progress) progress(first + count, total);
    }
    writing.wait();
  } catch (...) {
    writing.wait();  // never unwind the writer under a running write
    throw;
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
