#include "pipeline/jobs/dataset_builder.hpp"

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
  spec.encoding = o.encoding;
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

  // Pixel sums for the normalization statistics, per thread in the decode node (exact integers:
  // merged in any order they are the same), so the serial writer only writes.
  tbb::enumerable_thread_specific<io::PixelStatistics> counted(
      [&] { return io::PixelStatistics(static_cast<int>(o.channels), image_bytes); });

  // One image between the decode node and the writer node.
  struct Slot {
    std::int64_t position = 0;         // in the index: the sequencer's key
    std::vector<std::uint8_t> pixels;  // (H, W, C) as stored (or as encoded, for the statistics)
    std::vector<std::uint8_t> stored;  // variable size: the bytes that go into the file
    int height = 0, width = 0;
    std::string reason;  // non-empty: why this input was left out
  };
  using SlotPtr = std::shared_ptr<Slot>;

  // Decoding and resizing: any order, any thread; exceptions become the slot's reason, since one
  // thrown out of a graph body would cancel the graph and lose the message.
  auto decode_one = [&](std::int64_t position) {
    auto slot = std::make_shared<Slot>();
    slot->position = position;
    const std::string& path = index.paths[static_cast<std::size_t>(position)];
    std::vector<std::uint8_t> bytes;
    std::string error;
    if (!io::read_file(path, bytes, error)) {
      slot->reason = "unreadable: " + error;
      return slot;
    }
    io::DecodeOptions options = decode;
    const cv::Size upright = ragged ? cv::Size() : io::jpeg_upright_size(bytes);
    if (!upright.empty()) {
      // Fixed size from a JPEG: decode only the centre window that is kept (the whole stream is
      // still entropy-decoded, so damage anywhere is reported).
      options.window = centre_crop_window(upright, o.height, o.width);
      options.min_window_size = {static_cast<int>(o.width), static_cast<int>(o.height)};
    }
    io::DecodeResult decoded = io::decode_image(bytes, options);
    if (!decoded.ok()) {
      slot->reason = decoded.reason + ": " + decoded.detail;
      return slot;
    }
    try {
      if (ragged) {
        cv::Mat resized = fit_to_storage(decoded.image, o.storage());
        if (!resized.isContinuous()) resized = resized.clone();
        // original: the file's own bytes when nothing was resized (any format kiln decodes),
        // else a JPEG of the resized pixels.
        const bool as_is = o.encoding == "original" && resized.data == decoded.image.data;
        slot->pixels.assign(resized.data, resized.data + resized.total() * resized.elemSize());
        slot->stored =
            as_is ? std::move(bytes)
                  : encode_for_storage(resized, o.encoding == "original" ? "jpeg" : o.encoding,
                                       o.jpeg_quality);
        slot->height = resized.rows;
        slot->width = resized.cols;
        counted.local().add(slot->pixels);
      } else {
        const cv::Mat fitted =
            upright.empty() ? fit_to_storage(decoded.image, o.storage())
                            : resize_crop(decoded.image,
                                          {static_cast<int>(o.width), static_cast<int>(o.height)});
        slot->pixels.assign(fitted.data, fitted.data + image_bytes);
        counted.local().add(slot->pixels);
      }
    } catch (const std::exception& e) {
      slot->reason = std::string("corrupt: ") + e.what();
    }
    return slot;
  };

  // The writer node: serial, in index order (after the sequencer). Fixed-size images are written
  // in runs of o.block, since one HDF5 call per small image would dominate.
  std::vector<std::uint8_t> run_images;
  std::vector<std::int32_t> run_labels;
  std::string failure;  // fail mode: the first bad input, in index order
  std::exception_ptr write_error;
  std::int64_t done = 0;
  auto flush = [&] {
    if (run_labels.empty()) return;
    writer.append(run_images, run_labels, io::DatasetWriter::Counting::kByCaller);
    run_images.clear();
    run_labels.clear();
  };
  auto write_one = [&](const Slot& slot) {
    const std::string& path = index.paths[static_cast<std::size_t>(slot.position)];
    const std::int32_t label = index.labels[static_cast<std::size_t>(slot.position)];
    if (!slot.reason.empty()) {
      if (o.on_error == OnError::kFail) {
        failure =
            path + ": " + slot.reason + " (--on-error fail; use --on-error skip to leave it out)";
        return false;
      }
      summary.skipped.push_back({path, slot.reason});
      writer.record_skipped({path, slot.reason});
    } else if (ragged) {
      writer.append_ragged(slot.stored, slot.height, slot.width, slot.pixels, label,
                           io::DatasetWriter::Counting::kByCaller);
      ++summary.written;
    } else {
      run_images.insert(run_images.end(), slot.pixels.begin(), slot.pixels.end());
      run_labels.push_back(label);
      ++summary.written;
      if (static_cast<std::int64_t>(run_labels.size()) == o.block) flush();
    }
    ++done;
    if (progress && (done % o.block == 0 || done == total)) progress(done, total);
    return true;
  };

  namespace flow = tbb::flow;
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
  flow::limiter_node<std::int64_t> limiter(g, static_cast<std::size_t>(2 * o.block));
  flow::function_node<std::int64_t, SlotPtr> decoder(g, flow::unlimited, decode_one);
  flow::sequencer_node<SlotPtr> in_order(
      g, [](const SlotPtr& slot) { return static_cast<std::size_t>(slot->position); });
  flow::function_node<SlotPtr, flow::continue_msg> sink(g, flow::serial, [&](const SlotPtr& slot) {
    if (failure.empty() && !write_error) {
      try {
        if (!write_one(*slot)) g.cancel();
      } catch (...) {
        write_error = std::current_exception();
        g.cancel();
      }
    }
    return flow::continue_msg();
  });
  flow::make_edge(source, limiter);
  flow::make_edge(limiter, decoder);
  flow::make_edge(decoder, in_order);
  flow::make_edge(in_order, sink);
  flow::make_edge(sink, limiter.decrementer());
  source.activate();
  g.wait_for_all();
  if (write_error) std::rethrow_exception(write_error);
  if (!failure.empty()) throw Error(failure);
  flush();
  if (summary.written == 0) {
    throw Error(o.output_path + ": none of the " + std::to_string(total) +
                " inputs could be read; first: " +
                (summary.skipped.empty()
                     ? std::string("-")
                     : summary.skipped[0].path + ": " + summary.skipped[0].reason));
  }
  for (const io::PixelStatistics& part : counted) writer.add_statistics(part);
  writer.commit();
  return summary;
}

}  // namespace kiln::pipeline
