#include "io/dataset_writer.hpp"

#include <algorithm>
#include <cmath>

#include "io/atomic_file.hpp"
#include "io/h5.hpp"
#include "io/pixel_statistics.hpp"
#include "nn/error.hpp"
#include "nn/version.hpp"

namespace kiln::io {
namespace {
// Rows per HDF5 chunk: about 1 MiB of pixels. A checksummed chunk is read and verified whole, so
// for training's random reads those are about 64 KiB (one image when an image is larger): the
// reader's chunk cache then holds 4096 of them, and a read beyond it costs one small chunk.
std::uint64_t chunk_rows(std::int64_t image_bytes, bool checksum) {
  const std::int64_t target = checksum ? std::int64_t{1} << 16 : std::int64_t{1} << 20;
  return static_cast<std::uint64_t>(std::max<std::int64_t>(1, target / image_bytes));
}
}  // namespace

struct DatasetWriter::State {
  DatasetSpec spec;
  AtomicFile atomic;
  h5::File file;
  h5::Dataset images;
  h5::Dataset labels;              // classification
  h5::Dataset targets;             // multi_label, regression
  h5::Dataset offsets, shapes;     // ragged only
  std::uint64_t stored_bytes = 0;  // ragged only: bytes in /images so far
  std::vector<SkippedInput> skipped;
  PixelStatistics statistics;

  State(std::filesystem::path path, DatasetSpec s)
      : spec(std::move(s)),
        atomic(std::move(path)),
        file(h5::File::create(atomic.temp_path().string(), atomic.target().string())),
        statistics(static_cast<int>(spec.channels), spec.height * spec.width * spec.channels) {}
};

DatasetWriter::DatasetWriter(std::filesystem::path path, DatasetSpec spec) {
  const bool ragged = !spec.encoding.empty();
  if (ragged && spec.encoding != "raw" && spec.encoding != "jpeg" && spec.encoding != "png" &&
      spec.encoding != "original") {
    throw Error(path.string() + ": encoding must be raw, jpeg, png or original, got " +
                spec.encoding);
  }
  if (ragged && (spec.height != 0 || spec.width != 0)) {
    throw Error(path.string() + ": a ragged dataset has no fixed size");
  }
  if ((!ragged && (spec.height <= 0 || spec.width <= 0)) ||
      (spec.channels != 1 && spec.channels != 3)) {
    throw Error(path.string() + ": image size must be positive with 1 or 3 channels, got " +
                std::to_string(spec.height) + "x" + std::to_string(spec.width) + "x" +
                std::to_string(spec.channels));
  }
  if (spec.class_names.empty())
    throw Error(path.string() + ": a dataset needs at least one class name");
  if (spec.channel_order.empty()) spec.channel_order = spec.channels == 1 ? "L" : "RGB";
  state_ = std::make_unique<State>(std::move(path), std::move(spec));
  const DatasetSpec& s = state_->spec;
  const auto h = static_cast<std::uint64_t>(s.height), w = static_cast<std::uint64_t>(s.width),
             c = static_cast<std::uint64_t>(s.channels);
  if (ragged) {
    // One byte stream in 1 MiB chunks, with where each image starts and its shape.
    state_->images = state_->file.create_dataset(
        "images", h5::Type::kU8, {0}, {true, {std::uint64_t{1} << 20}, s.gzip_level, s.checksum});
    state_->offsets =
        state_->file.create_dataset("offsets", h5::Type::kI64, {1}, {true, {4096}, 0, s.checksum});
    const std::int64_t zero = 0;
    state_->offsets.write_rows(0, 1, &zero, h5::Type::kI64);
    state_->shapes = state_->file.create_dataset("shapes", h5::Type::kI32, {0, 3},
                                                 {true, {4096, 3}, 0, s.checksum});
  } else {
    const std::uint64_t rows = chunk_rows(s.height * s.width * s.channels, s.checksum);
    state_->images = state_->file.create_dataset("images", h5::Type::kU8, {0, h, w, c},
                                                 {true, {rows, h, w, c}, s.gzip_level, s.checksum});
  }
  const auto width = static_cast<std::uint64_t>(s.class_names.size());
  if (s.task == nn::Task::kClassification) {
    state_->labels =
        state_->file.create_dataset("labels", h5::Type::kI32, {0}, {true, {4096}, 0, s.checksum});
  } else {
    const h5::Type type = s.task == nn::Task::kMultiLabel ? h5::Type::kU8 : h5::Type::kF32;
    state_->targets = state_->file.create_dataset(
        "targets", type, {0, width},
        {true, {std::max<std::uint64_t>(1, 4096 / width), width}, 0, s.checksum});
  }
}

void DatasetWriter::write_targets(std::uint64_t row, std::uint64_t n,
                                  std::span<const std::int32_t> labels,
                                  std::span<const float> targets) {
  const DatasetSpec& s = state_->spec;
  const std::string where = state_->atomic.target().string();
  const std::size_t width = s.class_names.size();
  if (s.task == nn::Task::kClassification) {
    for (const std::int32_t label : labels) {
      if (label < 0 || label >= static_cast<std::int32_t>(width)) {
        throw Error(where + ": label " + std::to_string(label) + " is outside the " +
                    std::to_string(width) + " classes; pass one class name per label");
      }
    }
    state_->labels.resize_rows(row + n);
    state_->labels.write_rows(row, n, labels.data(), h5::Type::kI32);
    return;
  }
  if (targets.size() != n * width) {
    throw Error(where + ": " + std::to_string(targets.size()) + " target values for " +
                std::to_string(n) + " images of " + std::to_string(width) + " targets");
  }
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const float v = targets[i];
    const bool bad = s.task == nn::Task::kMultiLabel ? (v != 0.f && v != 1.f) : !std::isfinite(v);
    if (bad) {
      throw Error(where + ": target " + std::to_string(i % width) + " of image " +
                  std::to_string(row + i / width) + " is " + std::to_string(v) +
                  (s.task == nn::Task::kMultiLabel ? "; multi-label targets are 0 or 1"
                                                   : "; regression targets must be finite"));
    }
  }
  state_->targets.resize_rows(row + n);
  if (s.task == nn::Task::kMultiLabel) {
    std::vector<std::uint8_t> present(targets.begin(), targets.end());
    state_->targets.write_rows(row, n, present.data(), h5::Type::kU8);
  } else {
    state_->targets.write_rows(row, n, targets.data(), h5::Type::kF32);
  }
}

DatasetWriter::~DatasetWriter() = default;

void DatasetWriter::append(std::span<const std::uint8_t> images,
                           std::span<const std::int32_t> labels, Counting counting,
                           std::span<const float> targets) {
  const DatasetSpec& s = state_->spec;
  if (!s.encoding.empty()) {
    throw Error(state_->atomic.target().string() + ": a ragged dataset takes append_ragged()");
  }
  const auto image_bytes = static_cast<std::size_t>(s.height * s.width * s.channels);
  if (images.size() != labels.size() * image_bytes) {
    throw Error(state_->atomic.target().string() + ": append got " + std::to_string(images.size()) +
                " bytes for " + std::to_string(labels.size()) + " images of " +
                std::to_string(image_bytes) + " bytes");
  }
  const auto n = static_cast<std::uint64_t>(labels.size());
  const auto row = static_cast<std::uint64_t>(rows_);
  write_targets(row, n, labels, targets);
  state_->images.resize_rows(row + n);
  state_->images.write_rows(row, n, images.data(), h5::Type::kU8);

  if (counting == Counting::kHere) {
    for (std::size_t i = 0; i < images.size(); i += image_bytes)
      state_->statistics.add(images.subspan(i, image_bytes));
  }
  rows_ += static_cast<std::int64_t>(n);
}

void DatasetWriter::add_statistics(const PixelStatistics& counted) {
  state_->statistics.merge(counted);
}

void DatasetWriter::append_ragged(std::span<const std::uint8_t> stored, std::int64_t height,
                                  std::int64_t width, std::span<const std::uint8_t> pixels,
                                  std::int32_t label, Counting counting,
                                  std::span<const float> targets) {
  State& st = *state_;
  const DatasetSpec& s = st.spec;
  const std::string where = st.atomic.target().string();
  if (s.encoding.empty()) throw Error(where + ": a fixed-size dataset takes append()");
  if (height <= 0 || width <= 0 ||
      (counting == Counting::kHere &&
       pixels.size() != static_cast<std::size_t>(height * width * s.channels))) {
    throw Error(where + ": append_ragged got " + std::to_string(pixels.size()) +
                " pixel bytes for " + std::to_string(height) + "x" + std::to_string(width) + "x" +
                std::to_string(s.channels));
  }
  const auto row = static_cast<std::uint64_t>(rows_);
  write_targets(row, 1, std::span(&label, 1), targets);
  st.images.resize_rows(st.stored_bytes + stored.size());
  if (!stored.empty())
    st.images.write_rows(st.stored_bytes, stored.size(), stored.data(), h5::Type::kU8);
  st.stored_bytes += stored.size();
  const auto end = static_cast<std::int64_t>(st.stored_bytes);
  st.offsets.resize_rows(row + 2);
  st.offsets.write_rows(row + 1, 1, &end, h5::Type::kI64);
  const std::int32_t shape[3] = {static_cast<std::int32_t>(height),
                                 static_cast<std::int32_t>(width),
                                 static_cast<std::int32_t>(s.channels)};
  st.shapes.resize_rows(row + 1);
  st.shapes.write_rows(row, 1, shape, h5::Type::kI32);
  if (counting == Counting::kHere) st.statistics.add(pixels);
  ++rows_;
}

void DatasetWriter::record_skipped(const SkippedInput& skipped) {
  state_->skipped.push_back(skipped);
}

void DatasetWriter::commit() {
  State& st = *state_;
  const DatasetSpec& s = st.spec;
  if (rows_ == 0) {
    throw Error(st.atomic.target().string() + ": no images were written; nothing to save");
  }
  h5::File& f = st.file;
  f.set_attribute("format", std::string(kDatasetFormat));
  f.set_attribute("format_version", kDatasetFormatVersion);
  f.set_attribute("layout", std::string(s.encoding.empty() ? "NHWC" : "ragged"));
  if (!s.encoding.empty()) {
    f.set_attribute("encoding", s.encoding);
    f.set_attribute("short_side", s.short_side);
    f.set_attribute("max_side", s.max_side);
  }
  f.set_attribute("channel_order", s.channel_order);
  f.set_attribute("class_names", s.class_names);
  if (s.task != nn::Task::kClassification)
    f.set_attribute("task", std::string(nn::task_name(s.task)));
  f.set_attribute("source", s.source);
  f.set_attribute("command_line", s.command_line);
  if (!s.split.empty()) f.set_attribute("split", s.split);
  f.set_attribute("kiln_version", std::string(kVersion));

  h5::Group skipped = f.create_group("skipped");
  std::vector<std::string> paths, reasons;
  for (const auto& item : st.skipped) {
    paths.push_back(item.path);
    reasons.push_back(item.reason);
  }
  skipped.write_strings("paths", paths);
  skipped.write_strings("reasons", reasons);

  // mean = S / n; cov_ab = S_ab / n - mean_a mean_b, from exact integer sums (no accumulated
  // rounding); std = sqrt(cov_aa).
  const PixelStatistics& counted = st.statistics;
  if (counted.images() != rows_) {
    throw Error(st.atomic.target().string() + ": statistics count " +
                std::to_string(counted.images()) + " images of the " + std::to_string(rows_) +
                " written");
  }
  const auto c = static_cast<std::uint64_t>(s.channels);
  std::vector<double> mean(c), stddev(c), covariance(c * c);
  const auto n = static_cast<double>(counted.pixels());
  for (std::size_t a = 0; a < c; ++a) mean[a] = static_cast<double>(counted.sum()[a]) / n;
  for (std::size_t a = 0; a < c; ++a) {
    for (std::size_t b = a; b < c; ++b) {
      const double cov = static_cast<double>(counted.products()[a * c + b]) / n - mean[a] * mean[b];
      covariance[a * c + b] = covariance[b * c + a] = cov;
    }
    stddev[a] = std::sqrt(std::max(covariance[a * c + a], 0.0));
  }
  h5::Group norm = f.create_group("normalization");
  norm.set_attribute("count", counted.pixels());
  norm.set_attribute("channel_order", s.channel_order);
  norm.create_dataset("mean", h5::Type::kF64, {c}).write(mean.data(), h5::Type::kF64);
  norm.create_dataset("std", h5::Type::kF64, {c}).write(stddev.data(), h5::Type::kF64);
  norm.create_dataset("covariance", h5::Type::kF64, {c, c})
      .write(covariance.data(), h5::Type::kF64);
  if (const std::vector<std::uint64_t> position_sums = counted.position_sums();
      !position_sums.empty()) {
    std::vector<double> mean_image(position_sums.size());
    for (std::size_t k = 0; k < mean_image.size(); ++k)
      mean_image[k] = static_cast<double>(position_sums[k]) / static_cast<double>(rows_);
    norm.create_dataset(
            "mean_image", h5::Type::kF64,
            {static_cast<std::uint64_t>(s.height), static_cast<std::uint64_t>(s.width), c})
        .write(mean_image.data(), h5::Type::kF64);
  }

  st.images = {};
  st.labels = {};
  st.targets = {};
  st.offsets = {};
  st.shapes = {};
  skipped = {};
  norm = {};
  f.close();
  st.atomic.commit();
}

}  // namespace kiln::io
