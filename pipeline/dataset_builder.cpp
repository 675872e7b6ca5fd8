#include "pipeline/dataset_builder.hpp"

#include <tbb/parallel_for.h>
#include <tbb/task_group.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <opencv2/imgcodecs.hpp>
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

namespace {

// The stored form of a variable-size image: its raw pixels, or re-encoded (OpenCV encodes BGR).
std::vector<std::uint8_t> encode_for_storage(const cv::Mat& rgb, const std::string& encoding,
                                             int jpeg_quality) {
  if (encoding == "raw") return {rgb.data, rgb.data + rgb.total() * rgb.elemSize()};
  cv::Mat bgr = rgb;
  if (rgb.channels() == 3) cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  std::vector<std::uint8_t> bytes;
  const bool ok = encoding == "jpeg"
                      ? cv::imencode(".jpg", bgr, bytes, {cv::IMWRITE_JPEG_QUALITY, jpeg_quality})
                      : cv::imencode(".png", bgr, bytes);
  if (!ok) throw Error("could not encode the image as " + encoding);
  return bytes;
}

}  // namespace

BuildSummary build_dataset(const io::ImageIndex& index, const BuildOptions& o,
                           const std::function<void(std::int64_t, std::int64_t)>& progress) {
  const bool ragged = !o.encoding.empty();
  if (!ragged && (o.height <= 0 || o.width <= 0))
    throw Error("--size must be HxW with positive sides");
  if (ragged &&
      (o.short_side < 0 || o.max_side < 0 || (o.max_side > 0 && o.max_side < o.short_side)))
    throw Error("--short-side and --max-side must be >= 0 with max-side >= short-side");
  if (o.jpeg_quality < 1 || o.jpeg_quality > 100)
    throw Error("the JPEG quality must be in [1, 100], got " + std::to_string(o.jpeg_quality));
  if (o.channels != 1 && o.channels != 3)
    throw Error("--channels must be 1 or 3, got " + std::to_string(o.channels));
  io::DatasetSpec spec;
  spec.height = ragged ? 0 : o.height;
  spec.width = ragged ? 0 : o.width;
  spec.encoding = o.encoding == "original" ? "jpeg" : o.encoding;  // what the bytes are
  spec.short_side = o.short_side;
  spec.max_side = o.max_side;
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
  // DCT-domain downscaling, except when JPEG bytes may be kept as they are: they must decode to
  // the size recorded for them.
  decode.min_short_side = static_cast<int>(ragged ? (o.encoding == "original" ? 0 : o.short_side)
                                                  : std::max(o.height, o.width));

  struct Slot {
    std::vector<std::uint8_t> pixels;  // (H, W, C) as stored (or as encoded, for the statistics)
    std::vector<std::uint8_t> stored;  // variable size: the bytes that go into the file
    int height = 0, width = 0;
    std::string reason;
  };
  struct Block {
    std::vector<Slot> slots;
    std::vector<std::uint8_t> images;  // fixed size: the block's good images, in index order
    std::vector<std::size_t> good;     // variable size: the good slots, in index order
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
          if (ragged) {
            cv::Mat resized = resize_short_side(decoded.image, o.short_side, o.max_side);
            if (!resized.isContinuous()) resized = resized.clone();
            slot.pixels.assign(resized.data, resized.data + resized.total() * resized.elemSize());
            const bool jpeg_as_is = o.encoding == "original" &&
                                    resized.data == decoded.image.data && bytes.size() > 2 &&
                                    bytes[0] == 0xFF && bytes[1] == 0xD8;
            slot.stored = jpeg_as_is ? std::move(bytes)
                                     : encode_for_storage(
                                           resized, o.encoding == "original" ? "jpeg" : o.encoding,
                                           o.jpeg_quality);
            slot.height = resized.rows;
            slot.width = resized.cols;
          } else {
            const cv::Mat fitted = resize_and_centre_crop(decoded.image, o.height, o.width);
            slot.pixels.assign(fitted.data, fitted.data + image_bytes);
          }
        } catch (const cv::Exception& e) {
          slot.reason = std::string("corrupt: resize failed: ") + e.what();
        }
      });
      writing.wait();  // the other block is written: its buffers and the writer are free
      // In index order, whatever order the decode tasks ran in.
      block.images.clear();
      block.good.clear();
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
        if (ragged) {
          block.good.push_back(static_cast<std::size_t>(i));
        } else {
          block.images.insert(block.images.end(), slot.pixels.begin(), slot.pixels.end());
        }
        block.labels.push_back(index.labels[static_cast<std::size_t>(first + i)]);
      }
      summary.written += static_cast<std::int64_t>(block.labels.size());
      if (!block.labels.empty()) {
        writing.run([&writer, &block, ragged] {
          if (!ragged) {
            writer.append(block.images, block.labels);
            return;
          }
          for (std::size_t k = 0; k < block.good.size(); ++k) {
            const Slot& s = block.slots[block.good[k]];
            writer.append_ragged(s.stored, s.height, s.width, s.pixels, block.labels[k]);
          }
        });
      }
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
