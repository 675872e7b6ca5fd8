#include "io/dataset_reader.hpp"

#include <sstream>

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
  check_file_format(f, kDatasetFormat, kDatasetFormatVersion,
                    "create it with kiln preprocess, or re-run kiln preprocess");
  // Training reads single images in random order. Uncompressed: no chunk cache, so each read
  // fetches just that image (a cached ~1 MiB chunk per random image made reading 1000x slower).
  // Compressed: a chunk must be inflated whole, so keep many of them.
  h5_->images = f.open_dataset("images");
  if (h5_->images.is_filtered()) {
    h5_->images = f.open_dataset("images", std::size_t{256} << 20);
  } else {
    h5_->images = f.open_dataset("images", 0);
  }
  const auto dims = h5_->images.dims();
  if (dims.size() != 4 || !h5_->images.has_type(h5::Type::kU8)) {
    throw Error(path + ": /images must be uint8 (N, H, W, C)");
  }
  height_ = static_cast<std::int64_t>(dims[1]);
  width_ = static_cast<std::int64_t>(dims[2]);
  channels_ = static_cast<std::int64_t>(dims[3]);

  h5::Dataset labels = f.open_dataset("labels");
  const auto label_dims = labels.dims();
  if (label_dims.size() != 1 || label_dims[0] != dims[0]) {
    throw Error(path + ": /labels holds " + std::to_string(label_dims.empty() ? 0 : label_dims[0]) +
                " labels for " + std::to_string(dims[0]) + " images; the file is damaged");
  }
  labels_.resize(label_dims[0]);
  if (!labels_.empty()) labels.read(labels_.data(), h5::Type::kI32);

  class_names_ = f.strings_attribute("class_names");
  format_version_ = kDatasetFormatVersion;
  if (f.has_attribute("source")) source_ = f.string_attribute("source");
  if (f.has_attribute("command_line")) command_line_ = f.string_attribute("command_line");
  if (f.has_attribute("split")) split_ = f.string_attribute("split");
  channel_order_ = f.string_attribute("channel_order");
  for (std::size_t i = 0; i < labels_.size(); ++i) {
    if (labels_[i] < 0 || labels_[i] >= static_cast<std::int32_t>(class_names_.size())) {
      throw Error(path + ": label " + std::to_string(labels_[i]) + " of image " +
                  std::to_string(i) + " is outside the " + std::to_string(class_names_.size()) +
                  " classes");
    }
  }

  h5::Group norm = f.open_group("normalization");
  statistics_.count = norm.int_attribute("count");
  for (auto* target : {&statistics_.mean, &statistics_.std}) {
    h5::Dataset d = norm.open_dataset(target == &statistics_.mean ? "mean" : "std");
    if (d.dims() != std::vector<std::uint64_t>{static_cast<std::uint64_t>(channels_)}) {
      throw Error(d.where() + ": expected " + std::to_string(channels_) +
                  " values, one per channel");
    }
    target->resize(static_cast<std::size_t>(channels_));
    d.read(target->data(), h5::Type::kF64);
  }

  if (norm.exists("covariance")) {
    h5::Dataset d = norm.open_dataset("covariance");
    const auto c = static_cast<std::uint64_t>(channels_);
    if (d.dims() != std::vector<std::uint64_t>{c, c}) {
      throw Error(d.where() + ": expected a " + std::to_string(c) + "x" + std::to_string(c) +
                  " channel covariance");
    }
    statistics_.covariance.resize(static_cast<std::size_t>(c * c));
    d.read(statistics_.covariance.data(), h5::Type::kF64);
  }

  if (f.exists("skipped")) {
    h5::Group skipped = f.open_group("skipped");
    const auto paths = skipped.read_strings("paths");
    const auto reasons = skipped.read_strings("reasons");
    for (std::size_t i = 0; i < paths.size() && i < reasons.size(); ++i) {
      skipped_.push_back({paths[i], reasons[i]});
    }
  }
}

DatasetReader::~DatasetReader() = default;

void DatasetReader::read_image(std::int64_t index, std::span<std::uint8_t> out) const {
  read_images(index, 1, out);
}

void DatasetReader::read_images(std::int64_t first, std::int64_t count,
                                std::span<std::uint8_t> out) const {
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

std::string describe_dataset(const DatasetReader& r) {
  std::ostringstream out;
  out << r.path() << ": kiln dataset, format version " << r.format_version() << "\n";
  out << "  /images   uint8 (" << r.size() << ", " << r.height() << ", " << r.width() << ", "
      << r.channels() << ")  layout NHWC, channel order " << r.channel_order() << "\n";
  out << "  /labels   int32 (" << r.size() << ")\n";
  std::vector<std::int64_t> counts(r.class_names().size(), 0);
  for (const std::int32_t label : r.labels()) ++counts[static_cast<std::size_t>(label)];
  out << "  classes   " << r.class_names().size() << "\n";
  for (std::size_t c = 0; c < counts.size(); ++c) {
    out << "    " << c << "  " << r.class_names()[c] << ": " << counts[c] << " images\n";
  }
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
