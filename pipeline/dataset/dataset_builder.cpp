#include "pipeline/dataset/dataset_builder.hpp"

#include <tbb/enumerable_thread_specific.h>
#include <tbb/flow_graph.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <opencv2/imgproc.hpp>

#include "io/dataset_writer.hpp"
#include "io/decode.hpp"
#include "io/jpeg.hpp"
#include "io/opencv_codecs.hpp"
#include "nn/error.hpp"
#include "nn/tsan.hpp"
#include "pipeline/transforms/resize_crop.hpp"

namespace kiln::pipeline {

namespace {

// The stored form of a variable-size image: its raw pixels, or re-encoded (JPEG by kiln, from RGB;
// PNG by OpenCV, which takes BGR).
std::vector<std::uint8_t> encode_for_storage(const cv::Mat& rgb, const std::string& encoding,
                                             int jpeg_quality) {
  if (encoding == "raw") return {rgb.data, rgb.data + rgb.total() * rgb.elemSize()};
  if (encoding == "jpeg") {
    std::vector<std::uint8_t> bytes;
    std::string error;
    if (!io::encode_jpeg(rgb, jpeg_quality, bytes, error))
      throw Error("could not encode the image as JPEG: " + error);
    return bytes;
  }
  cv::Mat bgr = rgb;
  if (rgb.channels() == 3) cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  return io::opencv_encode(".png", bgr, {}, "an image");
}

void check_options(const BuildOptions& o) {
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
}

}  // namespace

io::DatasetSpec dataset_spec(const BuildOptions& o, const io::ImageIndex& index) {
  const bool ragged = !o.encoding.empty();
  io::DatasetSpec spec;
  spec.height = ragged ? 0 : o.height;
  spec.width = ragged ? 0 : o.width;
  spec.encoding = o.encoding;
  spec.short_side = o.short_side;
  spec.max_side = o.max_side;
  spec.channels = o.channels;
  spec.class_names = index.class_names;
  spec.task = index.task;
  spec.source = o.source;
  spec.command_line = o.command_line;
  spec.gzip_level = o.gzip_level;
  spec.checksum = o.checksum;
  spec.split = o.split;
  return spec;
}

namespace {

// One image between the decode node and the writer node.
struct Slot {
  std::int64_t position = 0;         // in the index: the sequencer's key
  std::vector<std::uint8_t> pixels;  // (H, W, C) as stored (or as encoded, for the statistics)
  std::vector<std::uint8_t> stored;  // variable size: the bytes that go into the file
  int height = 0, width = 0;
  std::string reason;  // non-empty: why this input was left out
};
using SlotPtr = std::shared_ptr<Slot>;

// Pixel sums for the normalization statistics, per thread in the decode node (exact integers:
// merged in any order they are the same), so the serial writer only writes.
using CountedPixels = tbb::enumerable_thread_specific<io::PixelStatistics>;

// The decode node: read, decode and size one input, in any order, on any thread. Exceptions
// become the slot's reason, since one thrown out of a graph body would cancel the graph and
// lose the message.
class DecodeImage {
 public:
  DecodeImage(const io::ImageIndex& index, const BuildOptions& o, CountedPixels& counted)
      : index_(index), o_(o), counted_(counted), ragged_(!o.encoding.empty()) {
    decode_.channels = o.channels;
    decode_.max_pixels = o.max_pixels;
    // DCT-domain downscaling, except when JPEG bytes may be kept as they are: they must decode
    // to the size recorded for them.
    decode_.min_short_side = static_cast<int>(
        ragged_ ? (o.encoding == "original" ? 0 : o.short_side) : std::max(o.height, o.width));
  }

  SlotPtr operator()(std::int64_t position) const {
    auto slot = std::make_shared<Slot>();
    slot->position = position;
    std::vector<std::uint8_t> bytes;
    std::string error;
    if (!io::read_file(index_.paths[static_cast<std::size_t>(position)], bytes, error)) {
      slot->reason = "unreadable: " + error;
      return slot;
    }
    io::DecodeOptions options = decode_;
    const cv::Size upright = ragged_ ? cv::Size() : io::jpeg_upright_size(bytes);
    if (!upright.empty()) {
      // Fixed size from a JPEG: decode only the centre window that is kept (the whole stream is
      // still entropy-decoded, so damage anywhere is reported).
      options.window = centre_crop_window(upright, o_.height, o_.width);
      options.min_window_size = {static_cast<int>(o_.width), static_cast<int>(o_.height)};
    }
    io::DecodeResult decoded = io::decode_image(bytes, options);
    if (!decoded.ok()) {
      slot->reason = decoded.reason + ": " + decoded.detail;
      return slot;
    }
    try {
      if (ragged_) {
        store_variable(decoded.image, std::move(bytes), *slot);
      } else {
        store_fixed(decoded.image, !upright.empty(), *slot);
      }
    } catch (const std::exception& e) {
      slot->reason = std::string("corrupt: ") + e.what();
    }
    return slot;
  }

 private:
  // original: the file's own bytes when nothing was resized (any format kiln decodes), else a
  // JPEG of the resized pixels.
  void store_variable(const cv::Mat& image, std::vector<std::uint8_t> bytes, Slot& slot) const {
    cv::Mat resized = fit_to_storage(image, o_.storage());
    if (!resized.isContinuous()) resized = resized.clone();
    const bool as_is = o_.encoding == "original" && resized.data == image.data;
    slot.pixels.assign(resized.data, resized.data + resized.total() * resized.elemSize());
    slot.stored =
        as_is ? std::move(bytes)
              : encode_for_storage(resized, o_.encoding == "original" ? "jpeg" : o_.encoding,
                                   o_.jpeg_quality);
    slot.height = resized.rows;
    slot.width = resized.cols;
    counted_.local().add(slot.pixels);
  }
  // A window decode is already the centre crop; only its resize is left.
  void store_fixed(const cv::Mat& image, bool window_decoded, Slot& slot) const {
    const cv::Mat fitted =
        window_decoded
            ? resize_crop(image, {static_cast<int>(o_.width), static_cast<int>(o_.height)})
            : fit_to_storage(image, o_.storage());
    slot.pixels.assign(fitted.data, fitted.data + o_.height * o_.width * o_.channels);
    counted_.local().add(slot.pixels);
  }

  const io::ImageIndex& index_;
  const BuildOptions& o_;
  CountedPixels& counted_;
  bool ragged_;
  io::DecodeOptions decode_;
};

// The writer node's state: serial, in index order (after the sequencer). Fixed-size images are
// written in runs of o.block, since one HDF5 call per small image would dominate.
class WriteImages {
 public:
  WriteImages(const io::ImageIndex& index, const BuildOptions& o, io::DatasetWriter& writer,
              const std::function<void(std::int64_t, std::int64_t)>& progress)
      : index_(index), o_(o), writer_(writer), progress_(progress) {}

  // False in fail mode at the first bad input (failure() names it).
  bool write(const Slot& slot) {
    const std::string& path = index_.paths[static_cast<std::size_t>(slot.position)];
    const std::int32_t label = index_.labels[static_cast<std::size_t>(slot.position)];
    const std::span<const float> targets = target_row(slot.position);
    if (!slot.reason.empty()) {
      if (o_.on_error == OnError::kFail) {
        failure_ =
            path + ": " + slot.reason + " (--on-error fail; use --on-error skip to leave it out)";
        return false;
      }
      summary_.skipped.push_back({path, slot.reason});
      writer_.record_skipped({path, slot.reason});
    } else if (!o_.encoding.empty()) {
      writer_.append_ragged(slot.stored, slot.height, slot.width, slot.pixels, label,
                            io::DatasetWriter::Counting::kByCaller, targets);
      ++summary_.written;
    } else {
      run_images_.insert(run_images_.end(), slot.pixels.begin(), slot.pixels.end());
      run_labels_.push_back(label);
      run_targets_.insert(run_targets_.end(), targets.begin(), targets.end());
      ++summary_.written;
      if (static_cast<std::int64_t>(run_labels_.size()) == o_.block) flush();
    }
    ++done_;
    const auto total = static_cast<std::int64_t>(index_.paths.size());
    if (progress_ && (done_ % o_.block == 0 || done_ == total)) progress_(done_, total);
    return true;
  }
  void flush() {
    if (run_labels_.empty()) return;
    writer_.append(run_images_, run_labels_, io::DatasetWriter::Counting::kByCaller, run_targets_);
    run_images_.clear();
    run_labels_.clear();
    run_targets_.clear();
  }
  const std::string& failure() const { return failure_; }
  BuildSummary& summary() { return summary_; }

 private:
  // The index's target row at `position` (empty for classification).
  std::span<const float> target_row(std::int64_t position) const {
    if (index_.targets.empty()) return {};
    const std::size_t width = index_.class_names.size();
    return std::span(index_.targets).subspan(static_cast<std::size_t>(position) * width, width);
  }

  const io::ImageIndex& index_;
  const BuildOptions& o_;
  io::DatasetWriter& writer_;
  const std::function<void(std::int64_t, std::int64_t)>& progress_;
  std::vector<std::uint8_t> run_images_;
  std::vector<std::int32_t> run_labels_;
  std::vector<float> run_targets_;
  std::string failure_;  // fail mode: the first bad input, in index order
  std::int64_t done_ = 0;
  BuildSummary summary_;
};

// input (index positions) → limiter (2 × block in flight) → decode [parallel] → sequencer
// (index order) → writer [serial] → back to the limiter. Rethrows a write error.
void run_graph(std::int64_t total, std::int64_t block, const DecodeImage& decode,
               WriteImages& write) {
  namespace flow = tbb::flow;
  std::exception_ptr write_error;
  flow::graph g;
  flow::input_node<std::int64_t> source(
      g, [next = std::int64_t{0}, total](tbb::flow_control& fc) mutable {
        if (next == total) {
          fc.stop();
          return std::int64_t{0};
        }
        return next++;
      });
  // Images between reading and writing: bounded, whatever the corpus size.
  flow::limiter_node<std::int64_t> limiter(g, static_cast<std::size_t>(2 * block));
  // oneTBB's task spawns, queues and serial ordering are invisible to ThreadSanitizer; the
  // nodes state those edges themselves (nn/tsan.hpp): the graph is built before any node runs,
  // each slot is handed from the decoder to the writer, and the writer runs one slot at a time.
  flow::function_node<std::int64_t, SlotPtr> decoder(g, flow::unlimited,
                                                     [&decode, &g](std::int64_t position) {
                                                       tsan::acquire(&g);
                                                       SlotPtr slot = decode(position);
                                                       tsan::release(slot.get());
                                                       return slot;
                                                     });
  flow::sequencer_node<SlotPtr> in_order(g, [](const SlotPtr& slot) {
    tsan::acquire(slot.get());
    return static_cast<std::size_t>(slot->position);
  });
  flow::function_node<SlotPtr, flow::continue_msg> sink(g, flow::serial, [&](const SlotPtr& slot) {
    tsan::acquire(slot.get());
    tsan::acquire(&write);
    if (write.failure().empty() && !write_error) {
      try {
        if (!write.write(*slot)) g.cancel();
      } catch (...) {
        write_error = std::current_exception();
        g.cancel();
      }
    }
    tsan::release(&write);
    return flow::continue_msg();
  });
  flow::make_edge(source, limiter);
  flow::make_edge(limiter, decoder);
  flow::make_edge(decoder, in_order);
  flow::make_edge(in_order, sink);
  flow::make_edge(sink, limiter.decrementer());
  tsan::release(&g);
  source.activate();
  g.wait_for_all();
  tsan::acquire(&write);
  if (write_error) std::rethrow_exception(write_error);
}

}  // namespace

BuildSummary build_dataset(const io::ImageIndex& index, const BuildOptions& o,
                           const std::function<void(std::int64_t, std::int64_t)>& progress) {
  check_options(o);
  io::DatasetWriter writer(o.output_path, dataset_spec(o, index));
  for (const auto& w : index.warnings) writer.record_skipped(w);
  const auto total = static_cast<std::int64_t>(index.paths.size());
  CountedPixels counted(
      [&] { return io::PixelStatistics(o.channels, o.height * o.width * o.channels); });
  const DecodeImage decode(index, o, counted);
  WriteImages write(index, o, writer, progress);
  run_graph(total, o.block, decode, write);
  if (!write.failure().empty()) throw Error(write.failure());
  write.flush();
  BuildSummary summary = write.summary();
  if (summary.written == 0 && o.require_images) {
    throw Error(o.output_path + ": none of the " + std::to_string(total) +
                " inputs could be read; first: " +
                (summary.skipped.empty()
                     ? std::string("-")
                     : summary.skipped[0].path + ": " + summary.skipped[0].reason));
  }
  io::PixelStatistics total_counted(o.channels, o.height * o.width * o.channels);
  for (const io::PixelStatistics& part : counted) total_counted.merge(part);
  writer.add_statistics(total_counted);
  writer.commit();
  summary.statistics = std::move(total_counted);
  return summary;
}

}  // namespace kiln::pipeline
