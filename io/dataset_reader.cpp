#include "io/dataset_reader.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "io/decode.hpp"
#include "io/file_format.hpp"
#include "io/h5.hpp"
#include "nn/error.hpp"

namespace kiln::io {

struct DatasetReader::Handles {
  h5::File file;
  h5::Dataset images;
};

DatasetReader::DatasetReader(const std::string& path)
    : h5_(std::make_unique<Handles>()), path_(path) {
  h5_->file = h5::File::open_read(path);
  h5::File& f = h5_->file;
  check_file_format(f, kDatasetFormat, kDatasetFormatVersion, kDatasetFormatVersion,
                    "create it with kiln preprocess, or re-run kiln preprocess");
  const std::uint64_t images = open_images(f);
  read_labels(f, images);
  if (f.has_attribute("source")) source_ = f.string_attribute("source");
  if (f.has_attribute("command_line")) command_line_ = f.string_attribute("command_line");
  if (f.has_attribute("split")) split_ = f.string_attribute("split");
  channel_order_ = f.string_attribute("channel_order");
  read_statistics(f.open_group("normalization"), !offsets_.empty());
  if (f.exists("skipped")) {
    h5::Group skipped = f.open_group("skipped");
    const auto paths = skipped.read_strings("paths");
    const auto reasons = skipped.read_strings("reasons");
    for (std::size_t i = 0; i < paths.size() && i < reasons.size(); ++i) {
      skipped_.push_back({paths[i], reasons[i]});
    }
  }
}

std::uint64_t DatasetReader::open_images(const h5::File& f) {
  // Training reads single images in random order. Uncompressed: no chunk cache, so each read
  // fetches just that image (a cached ~1 MiB chunk per random image made reading 1000x slower).
  // Compressed: a chunk must be inflated whole, so keep many of them.
  h5_->images = f.open_dataset("images");
  if (h5_->images.is_filtered()) {
    h5_->images = f.open_dataset("images", std::size_t{256} << 20);
  } else {
    h5_->images = f.open_dataset("images", 0);
  }
  if (f.has_attribute("layout") && f.string_attribute("layout") == "ragged") {
    read_ragged_index(f);
    return offsets_.size() - 1;
  }
  const auto dims = h5_->images.dims();
  if (dims.size() != 4 || !h5_->images.has_type(h5::Type::kU8)) {
    throw Error(path_ + ": /images must be uint8 (N, H, W, C)");
  }
  height_ = static_cast<std::int64_t>(dims[1]);
  width_ = static_cast<std::int64_t>(dims[2]);
  channels_ = static_cast<std::int64_t>(dims[3]);
  return dims[0];
}

void DatasetReader::read_labels(const h5::File& f, std::uint64_t images) {
  if (f.has_attribute("task")) {
    const std::string task = f.string_attribute("task");
    try {
      task_ = nn::task_from_name(task);
    } catch (const Error& e) {
      throw Error(path_ + ": attribute task: " + e.what());
    }
  }
  if (task_ != nn::Task::kClassification) {
    read_targets(f, images);
    return;
  }
  h5::Dataset labels = f.open_dataset("labels");
  const auto label_dims = labels.dims();
  if (label_dims.size() != 1 || label_dims[0] != images) {
    throw Error(path_ + ": /labels holds " +
                std::to_string(label_dims.empty() ? 0 : label_dims[0]) + " labels for " +
                std::to_string(images) + " images; the file is damaged");
  }
  labels_.resize(label_dims[0]);
  if (!labels_.empty()) labels.read(labels_.data(), h5::Type::kI32);
  class_names_ = f.strings_attribute("class_names");
  format_version_ = kDatasetFormatVersion;
  for (std::size_t i = 0; i < labels_.size(); ++i) {
    if (labels_[i] < 0 || labels_[i] >= static_cast<std::int32_t>(class_names_.size())) {
      throw Error(path_ + ": label " + std::to_string(labels_[i]) + " of image " +
                  std::to_string(i) + " is outside the " + std::to_string(class_names_.size()) +
                  " classes");
    }
  }
}

void DatasetReader::read_targets(const h5::File& f, std::uint64_t images) {
  class_names_ = f.strings_attribute("class_names");
  format_version_ = kDatasetFormatVersion;
  const std::uint64_t width = class_names_.size();
  h5::Dataset targets = f.open_dataset("targets");
  const h5::Type type = task_ == nn::Task::kMultiLabel ? h5::Type::kU8 : h5::Type::kF32;
  if (targets.dims() != std::vector<std::uint64_t>{images, width} || !targets.has_type(type)) {
    throw Error(path_ + ": /targets must be " +
                (task_ == nn::Task::kMultiLabel ? "uint8" : "float32") + " (" +
                std::to_string(images) + ", " + std::to_string(width) +
                "): one row per image, one column per name in class_names; the file is damaged");
  }
  targets_.resize(images * width);
  if (task_ == nn::Task::kMultiLabel) {
    std::vector<std::uint8_t> present(targets_.size());
    if (!present.empty()) targets.read(present.data(), h5::Type::kU8);
    for (std::size_t i = 0; i < present.size(); ++i) {
      if (present[i] > 1) {
        throw Error(path_ + ": /targets[" + std::to_string(i / width) + ", " +
                    std::to_string(i % width) + "] is " + std::to_string(present[i]) +
                    "; multi-label targets are 0 or 1");
      }
      targets_[i] = present[i];
    }
  } else if (!targets_.empty()) {
    targets.read(targets_.data(), h5::Type::kF32);
    for (std::size_t i = 0; i < targets_.size(); ++i) {
      if (!std::isfinite(targets_[i])) {
        throw Error(path_ + ": /targets[" + std::to_string(i / width) + ", " +
                    std::to_string(i % width) + "] is not a finite number; the file is damaged");
      }
    }
  }
  labels_.assign(images, 0);
}

namespace {

// The dataset `name` of `group`, which must hold `dims` values, read as `type` into `out`.
template <class T>
void read_exactly(const h5::Group& group, const char* name, const std::vector<std::uint64_t>& dims,
                  h5::Type type, const std::string& expected, std::vector<T>& out) {
  h5::Dataset d = group.open_dataset(name);
  if (d.dims() != dims) throw Error(d.where() + ": expected " + expected);
  std::uint64_t count = 1;
  for (const std::uint64_t n : dims) count *= n;
  out.resize(static_cast<std::size_t>(count));
  d.read(out.data(), type);
}

}  // namespace

void DatasetReader::read_statistics(const h5::Group& norm, bool ragged) {
  const auto c = static_cast<std::uint64_t>(channels_);
  statistics_.count = norm.int_attribute("count");
  const std::string per_channel = std::to_string(c) + " values, one per channel";
  read_exactly(norm, "mean", {c}, h5::Type::kF64, per_channel, statistics_.mean);
  read_exactly(norm, "std", {c}, h5::Type::kF64, per_channel, statistics_.std);
  if (norm.exists("mean_image") && !ragged) {
    read_exactly(norm, "mean_image",
                 {static_cast<std::uint64_t>(height_), static_cast<std::uint64_t>(width_), c},
                 h5::Type::kF64, "the (H, W, C) of the images", statistics_.mean_image);
  }
  if (norm.exists("zca")) {
    const auto n = static_cast<std::uint64_t>(statistics_.mean_image.size());
    read_exactly(norm, "zca", {n, n}, h5::Type::kF32, std::to_string(n) + "x" + std::to_string(n),
                 statistics_.zca);
    if (norm.has_attribute("zca_epsilon"))
      statistics_.zca_epsilon = norm.double_attribute("zca_epsilon");
  }
  if (norm.exists("covariance")) {
    read_exactly(norm, "covariance", {c, c}, h5::Type::kF64,
                 "a " + std::to_string(c) + "x" + std::to_string(c) + " channel covariance",
                 statistics_.covariance);
  }
}

DatasetReader::~DatasetReader() = default;

void DatasetReader::read_ragged_index(const h5::File& f) {
  encoding_ = f.string_attribute("encoding");
  if (encoding_ != "raw" && encoding_ != "jpeg" && encoding_ != "png" && encoding_ != "original") {
    throw Error(path_ + ": unknown image encoding '" + encoding_ + "'; the file is damaged");
  }
  if (f.has_attribute("short_side")) short_side_ = f.int_attribute("short_side");
  if (f.has_attribute("max_side")) max_side_ = f.int_attribute("max_side");
  const auto bytes = h5_->images.dims();
  h5::Dataset offsets = f.open_dataset("offsets");
  h5::Dataset shapes = f.open_dataset("shapes");
  const auto n_offsets = offsets.dims(), n_shapes = shapes.dims();
  if (bytes.size() != 1 || n_offsets.size() != 1 || n_offsets[0] < 1 || n_shapes.size() != 2 ||
      n_shapes[1] != 3 || n_shapes[0] + 1 != n_offsets[0]) {
    throw Error(path_ + ": /images, /offsets and /shapes do not agree; the file is damaged");
  }
  offsets_.resize(n_offsets[0]);
  offsets.read(offsets_.data(), h5::Type::kI64);
  shapes_.resize(n_shapes[0] * 3);
  if (!shapes_.empty()) shapes.read(shapes_.data(), h5::Type::kI32);
  for (std::size_t i = 0; i + 1 < offsets_.size(); ++i) {
    if (offsets_[i] > offsets_[i + 1])
      throw Error(path_ + ": /offsets decrease; the file is damaged");
  }
  if (offsets_.front() != 0 || static_cast<std::uint64_t>(offsets_.back()) != bytes[0]) {
    throw Error(path_ + ": /offsets do not span /images; the file is damaged");
  }
  channels_ = shapes_.empty() ? 0 : shapes_[2];
}

std::vector<std::uint8_t> DatasetReader::read_stored(std::int64_t index) const {
  if (!ragged()) throw Error(path_ + ": fixed-size files store pixels; use read_mat");
  if (index < 0 || index >= size()) {
    throw Error(path_ + ": image " + std::to_string(index) + " requested, the file holds " +
                std::to_string(size()));
  }
  const auto i = static_cast<std::size_t>(index);
  const auto first = static_cast<std::uint64_t>(offsets_[i]);
  const auto count = static_cast<std::uint64_t>(offsets_[i + 1] - offsets_[i]);
  std::vector<std::uint8_t> bytes(count);
  if (count > 0) h5_->images.read_rows(first, count, bytes.data(), h5::Type::kU8);
  return bytes;
}

cv::Size DatasetReader::image_size(std::int64_t index) const {
  if (!ragged()) return {static_cast<int>(width_), static_cast<int>(height_)};
  const auto i = static_cast<std::size_t>(index) * 3;
  return {shapes_.at(i + 1), shapes_.at(i)};
}

cv::Mat DatasetReader::read_mat(std::int64_t index) const {
  if (index < 0 || index >= size()) {
    throw Error(path_ + ": image " + std::to_string(index) + " requested, the file holds " +
                std::to_string(size()));
  }
  const int type = CV_8UC(static_cast<int>(channels_));
  if (!ragged()) {
    cv::Mat image(static_cast<int>(height_), static_cast<int>(width_), type);
    read_image(index, {image.data, static_cast<std::size_t>(image_bytes())});
    return image;
  }
  const auto i = static_cast<std::size_t>(index);
  const auto first = static_cast<std::uint64_t>(offsets_[i]);
  const auto count = static_cast<std::uint64_t>(offsets_[i + 1] - offsets_[i]);
  const cv::Size size = image_size(index);
  if (encoding_ == "raw") {
    cv::Mat image(size, type);
    if (count != image.total() * image.elemSize()) {
      throw Error(path_ + ": image " + std::to_string(index) + " holds " + std::to_string(count) +
                  " bytes for its shape; the file is damaged");
    }
    h5_->images.read_rows(first, count, image.data, h5::Type::kU8);
    return image;
  }
  const std::vector<std::uint8_t> bytes = read_stored(index);
  DecodeOptions options;
  options.channels = static_cast<int>(channels_);
  DecodeResult decoded = decode_image(bytes, options);
  if (!decoded.ok()) {
    throw Error(path_ + ": image " + std::to_string(index) + " does not decode (" + decoded.reason +
                ": " + decoded.detail + "); the file is damaged");
  }
  if (decoded.image.size() != size) {
    throw Error(path_ + ": image " + std::to_string(index) +
                " decodes to another size than /shapes says");
  }
  return decoded.image;
}

cv::Mat DatasetReader::read_window(std::int64_t index, cv::Rect window, cv::Size at_least,
                                   cv::Rect2d* area) const {
  const bool encoded = ragged() && encoding_ != "raw";
  const cv::Size size = encoded ? image_size(index) : cv::Size();
  if (!encoded) {
    const cv::Mat image = read_mat(index);
    if ((window & cv::Rect({0, 0}, image.size())) != window || window.empty()) {
      throw Error(path_ + ": image " + std::to_string(index) + ": window outside the image");
    }
    if (area != nullptr)
      *area = {0, 0, static_cast<double>(window.width), static_cast<double>(window.height)};
    return image(window);
  }
  const std::vector<std::uint8_t> bytes = read_stored(index);
  DecodeOptions options;
  options.channels = static_cast<int>(channels_);
  options.window = window;
  options.min_window_size = at_least;
  options.check_whole_file = false;
  DecodeResult decoded = decode_image(bytes, options);
  if (!decoded.ok()) {
    throw Error(path_ + ": image " + std::to_string(index) + " does not decode (" + decoded.reason +
                ": " + decoded.detail + "); the file is damaged");
  }
  if (decoded.full_size != size) {
    throw Error(path_ + ": image " + std::to_string(index) +
                " decodes to another size than /shapes says");
  }
  if (area != nullptr) *area = decoded.window_area;
  return decoded.image;
}

void DatasetReader::read_image(std::int64_t index, std::span<std::uint8_t> out) const {
  read_images(index, 1, out);
}

void DatasetReader::read_images(std::int64_t first, std::int64_t count,
                                std::span<std::uint8_t> out) const {
  if (ragged()) {
    throw Error(path_ + ": images of different sizes are read one at a time (read_mat)");
  }
  if (first < 0 || count < 0 || first + count > size()) {
    throw Error(path_ + ": images [" + std::to_string(first) + ", " +
                std::to_string(first + count) + ") requested, the file holds " +
                std::to_string(size()));
  }
  if (static_cast<std::int64_t>(out.size()) != count * image_bytes()) {
    throw Error(path_ + ": read buffer of " + std::to_string(out.size()) + " bytes for " +
                std::to_string(count) + " images");
  }
  h5_->images.read_rows(static_cast<std::uint64_t>(first), static_cast<std::uint64_t>(count),
                        out.data(), h5::Type::kU8);
}

}  // namespace kiln::io

namespace kiln::io {

namespace {

// The targets' part of describe_dataset: images per class (classification, multi_label) or each
// value's range (regression).
void describe_targets(const DatasetReader& r, std::ostringstream& out) {
  const std::size_t width = r.class_names().size();
  std::vector<std::int64_t> counts(width, 0);
  switch (r.task()) {
    case nn::Task::kClassification:
      out << "  /labels   int32 (" << r.size() << ")\n";
      for (const std::int32_t label : r.labels()) ++counts[static_cast<std::size_t>(label)];
      break;
    case nn::Task::kMultiLabel: {
      out << "  /targets  uint8 (" << r.size() << ", " << width << ")  task multi_label\n";
      std::vector<std::int64_t> per_image(width + 1, 0);
      for (std::int64_t i = 0; i < r.size(); ++i) {
        std::size_t present = 0;
        const auto row = r.target_row(i);
        for (std::size_t c = 0; c < width; ++c) {
          counts[c] += row[c] > 0.5f;
          present += row[c] > 0.5f;
        }
        ++per_image[present];
      }
      out << "  classes per image";
      for (std::size_t k = 0; k <= width; ++k)
        if (per_image[k] > 0) out << "  " << k << ": " << per_image[k];
      out << "\n";
      break;
    }
    case nn::Task::kRegression:
      out << "  /targets  float32 (" << r.size() << ", " << width << ")  task regression\n"
          << "  targets   " << width << "\n";
      for (std::size_t d = 0; d < width; ++d) {
        double lo = INFINITY, hi = -INFINITY, sum = 0.0, squares = 0.0;
        for (std::int64_t i = 0; i < r.size(); ++i) {
          const double v = r.target_row(i)[d];
          lo = std::min(lo, v), hi = std::max(hi, v), sum += v, squares += v * v;
        }
        const double n = static_cast<double>(r.size()), mean = sum / n;
        out << "    " << d << "  " << r.class_names()[d] << ": min " << lo << ", max " << hi
            << ", mean " << mean << ", std " << std::sqrt(std::max(squares / n - mean * mean, 0.0))
            << "\n";
      }
      return;
  }
  out << "  classes   " << width << "\n";
  for (std::size_t c = 0; c < width; ++c) {
    out << "    " << c << "  " << r.class_names()[c] << ": " << counts[c] << " images\n";
  }
}

}  // namespace

std::string describe_dataset(const DatasetReader& r) {
  std::ostringstream out;
  out << r.path() << ": kiln dataset, format version " << r.format_version() << "\n";
  if (r.ragged()) {
    int lo_w = 1 << 30, lo_h = 1 << 30, hi_w = 0, hi_h = 0;
    for (std::int64_t i = 0; i < r.size(); ++i) {
      const cv::Size size = r.image_size(i);
      lo_w = std::min(lo_w, size.width), hi_w = std::max(hi_w, size.width);
      lo_h = std::min(lo_h, size.height), hi_h = std::max(hi_h, size.height);
    }
    out << "  /images   " << r.size() << " images of variable size, stored " << r.encoding()
        << ", channel order " << r.channel_order() << " (with /offsets and /shapes)\n"
        << "            widths " << lo_w << ".." << hi_w << ", heights " << lo_h << ".." << hi_h
        << (r.short_side() > 0 ? ", short side " + std::to_string(r.short_side()) : "")
        << (r.max_side() > 0 ? ", long side <= " + std::to_string(r.max_side()) : "") << "\n";
  } else {
    out << "  /images   uint8 (" << r.size() << ", " << r.height() << ", " << r.width() << ", "
        << r.channels() << ")  layout NHWC, channel order " << r.channel_order() << "\n";
  }
  describe_targets(r, out);
  const ChannelStatistics& s = r.statistics();
  out << "  normalization (0..255 scale, " << s.count << " pixels per channel)\n    mean";
  for (double m : s.mean) out << " " << m;
  out << "\n    std ";
  for (double d : s.std) out << " " << d;
  out << "\n";
  if (!r.source().empty()) out << "  source    " << r.source() << "\n";
  if (!r.command_line().empty()) out << "  made by   " << r.command_line() << "\n";
  if (!r.split().empty()) out << "  split     " << r.split() << "\n";
  out << "  skipped   " << r.skipped().size() << (r.skipped().empty() ? "\n" : " inputs:\n");
  for (const SkippedInput& k : r.skipped()) out << "    " << k.path << ": " << k.reason << "\n";
  return out.str();
}

}  // namespace kiln::io
