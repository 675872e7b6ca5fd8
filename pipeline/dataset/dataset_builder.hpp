// build_dataset: an ImageIndex (class folders, list files) → a kiln HDF5 dataset of fixed-size
// images (short side resized, centre crop), or of variable-size ones (short side resized, stored
// raw or re-encoded as JPEG/PNG). A TBB flow graph:
//   input (index positions) → limiter (2 × block in flight) → decode + resize [parallel]
//     → sequencer (index order) → writer [serial] → back to the limiter
// so the same input gives the same /images and /labels whatever the thread count, and memory holds
// a bounded number of images whatever the corpus size. Bad inputs: on_error "skip" records each
// (path, reason) in /skipped and goes on; "fail" stops at the first one in index order, naming it,
// and leaves no output file (the writer is atomic).
#pragma once

#include <cstdint>
#include <functional>
#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <vector>

#include "io/dataset_format.hpp"
#include "io/dataset_writer.hpp"
#include "io/image_index.hpp"
#include "io/pixel_statistics.hpp"
#include "nn/json.hpp"
#include "pipeline/storage.hpp"

namespace kiln::pipeline {

enum class OnError { kSkip, kFail };

struct BuildOptions {
  std::string output_path;
  std::int64_t height = 0, width = 0;  // fixed size (both > 0), or 0 for variable size
  // Variable size: resize so the short side is short_side (0: keep), the long side at most
  // max_side (0: no cap), aspect ratio kept; stored as `encoding` (raw pixels, jpeg or png).
  std::int64_t short_side = 0, max_side = 0;
  // "" for fixed size; else raw | jpeg | png | original (files that need no resize are kept byte
  // for byte, whatever their format; resized ones are stored as jpeg)
  std::string encoding;
  int jpeg_quality = 90;
  int channels = 3;  // 1 (grey) or 3 (RGB)
  std::int64_t max_pixels = 178956970;
  OnError on_error = OnError::kSkip;
  int gzip_level = 0;
  bool checksum = true;  // Fletcher-32 per chunk (io::DatasetSpec::checksum)
  std::string source;
  std::string command_line;
  std::string split;         // "" or which part of a --val-split this file is
  std::int64_t block = 256;  // images per HDF5 write; 2 × block may be in flight
  // Fail when no input at all could be read. A shard of a sharded preprocess may hold none.
  bool require_images = true;

  // The geometry these options give the stored images.
  Storage storage() const {
    const bool fixed = encoding.empty();
    return {channels, fixed ? height : 0, fixed ? width : 0, short_side, max_side};
  }
  // Options that store images with `storage`'s geometry (variable size as raw pixels).
  static BuildOptions storing(const Storage& storage) {
    BuildOptions o;
    o.channels = storage.channels;
    o.height = storage.height;
    o.width = storage.width;
    o.short_side = storage.short_side;
    o.max_side = storage.max_side;
    if (!storage.fixed()) o.encoding = "raw";
    return o;
  }
};

struct BuildSummary {
  std::int64_t written = 0;
  std::vector<io::SkippedInput> skipped;            // in index order
  std::optional<io::PixelStatistics> statistics{};  // the exact sums stored in the file
};

// The dataset spec (size, encoding, classes, provenance) these options give a file of `index`.
io::DatasetSpec dataset_spec(const BuildOptions& options, const io::ImageIndex& index);

// progress(done, total) is called every `block` images and at the end, from the serial writer.
// Throws kiln::Error for a bad input in fail mode, or when no image at all could be read.
BuildSummary build_dataset(const io::ImageIndex& index, const BuildOptions& options,
                           const std::function<void(std::int64_t, std::int64_t)>& progress = {});

}  // namespace kiln::pipeline
