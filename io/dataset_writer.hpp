// DatasetWriter: writes the kiln HDF5 dataset schema (io/dataset_format.hpp) in streaming appends,
// fixed-size (one NHWC array) or ragged (concatenated per-image bytes with offsets and shapes).
// The file is built under a temporary name and renamed into place by commit(): an interrupted or
// failed preprocess leaves the previous file or none (docs/design.md contract 4). While appending it sums
// the pixels per channel in exact integers, so the normalization it stores does not depend on
// how the data was chunked.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "io/dataset_format.hpp"
#include "io/pixel_statistics.hpp"
#include "nn/task.hpp"

namespace kiln::io {

struct DatasetSpec {
  // Fixed size: height and width > 0, images stored as one (N, H, W, C) array. Ragged (variable
  // size): height = width = 0 and `encoding` says how each image's bytes are stored.
  std::int64_t height = 0, width = 0, channels = 0;
  std::string encoding;         // ragged only: "raw", "jpeg" or "png"
  std::int64_t short_side = 0;  // ragged only: what the images were resized to (for the record)
  std::int64_t max_side = 0;    // ragged only: 0 = no cap
  std::vector<std::string> class_names;  // label i is class_names[i]; regression: target names
  nn::Task task = nn::Task::kClassification;
  std::string channel_order;  // "L" (1 channel) or "RGB"
  std::string source;         // where the data came from
  std::string command_line;   // how the file was made
  int gzip_level = 0;         // 0: uncompressed (fastest to read)
  bool checksum = true;       // Fletcher-32 on every chunk: damage fails the read
  std::string split;          // "" or the --val-split part ("train (...)", "validation (...)")
};

class DatasetWriter {
 public:
  // Throws kiln::Error when the spec is invalid or the file cannot be created.
  DatasetWriter(std::filesystem::path path, DatasetSpec spec);
  ~DatasetWriter();  // without commit(): removes the temporary file
  DatasetWriter(const DatasetWriter&) = delete;
  DatasetWriter& operator=(const DatasetWriter&) = delete;

  // images: labels.size() images of (H, W, C) uint8, contiguous. Labels must be in
  // [0, class_names.size()). Tasks other than classification ignore the labels and take
  // `targets`: one row of class_names.size() values per image (multi_label: 0 or 1; regression:
  // finite values).
  // kHere: the writer adds the images to the statistics. kByCaller: the caller counted them
  // (in parallel, with PixelStatistics) and hands the sums to add_statistics() before commit().
  enum class Counting { kHere, kByCaller };
  void append(std::span<const std::uint8_t> images, std::span<const std::int32_t> labels,
              Counting counting = Counting::kHere, std::span<const float> targets = {});
  // Ragged files: one image stored as `stored` bytes (raw pixels or an encoded file), of
  // `height` x `width` pixels whose decoded (H, W, C) values are `pixels` (for the statistics;
  // unused, and may be empty, with Counting::kByCaller).
  void append_ragged(std::span<const std::uint8_t> stored, std::int64_t height, std::int64_t width,
                     std::span<const std::uint8_t> pixels, std::int32_t label,
                     Counting counting = Counting::kHere, std::span<const float> targets = {});
  void add_statistics(const PixelStatistics& counted);
  void record_skipped(const SkippedInput& skipped);

  std::int64_t size() const { return rows_; }

  // Writes statistics and attributes, closes, and renames into place.
  void commit();

 private:
  struct State;
  // Checks and writes rows [row, row + n): labels, or the task's target rows.
  void write_targets(std::uint64_t row, std::uint64_t n, std::span<const std::int32_t> labels,
                     std::span<const float> targets);
  std::unique_ptr<State> state_;
  std::int64_t rows_ = 0;
};

}  // namespace kiln::io
