// DatasetReader: opens a kiln HDF5 dataset (io/dataset_format.hpp), checks its schema, and reads
// images by index. Opening validates everything a training run would otherwise trip over later:
// format and version, image/label counts, label range, types.
// THREAD SAFETY: read_image/read_images may be called concurrently (libhdf5 is thread-safe).
#pragma once

#include <cstdint>
#include <memory>
#include <opencv2/core.hpp>
#include <span>
#include <string>
#include <vector>

#include "io/dataset_format.hpp"
#include "nn/task.hpp"

namespace kiln::io {

namespace h5 {
class File;
class Group;
}  // namespace h5

class DatasetReader {
 public:
  // Throws kiln::Error naming the file and what is wrong with it.
  explicit DatasetReader(const std::string& path);
  ~DatasetReader();
  DatasetReader(const DatasetReader&) = delete;
  DatasetReader& operator=(const DatasetReader&) = delete;

  const std::string& path() const { return path_; }
  std::int64_t size() const { return static_cast<std::int64_t>(labels_.size()); }
  // Fixed-size files: the image size. Ragged files: 0 (each image has its own, image_size()).
  std::int64_t height() const { return height_; }
  std::int64_t width() const { return width_; }
  bool ragged() const { return !encoding_.empty(); }
  const std::string& encoding() const { return encoding_; }  // "" | raw | jpeg | png
  std::int64_t short_side() const { return short_side_; }    // ragged: what images were resized to
  std::int64_t max_side() const { return max_side_; }        // ragged: 0 = no cap
  cv::Size image_size(std::int64_t index) const;             // (W, H) of one image
  std::int64_t channels() const { return channels_; }
  std::int64_t image_bytes() const { return height_ * width_ * channels_; }
  const std::string& channel_order() const { return channel_order_; }
  const std::vector<std::string>& class_names() const { return class_names_; }
  // Classification: each image's class. Other tasks: all 0 (one group, for the splits).
  const std::vector<std::int32_t>& labels() const { return labels_; }
  nn::Task task() const { return task_; }
  // Multi-label and regression: size() rows of class_names().size() values (0/1, or the
  // regression values); empty for classification.
  const std::vector<float>& targets() const { return targets_; }
  std::span<const float> target_row(std::int64_t index) const {
    const auto width = class_names_.size();
    return std::span(targets_).subspan(static_cast<std::size_t>(index) * width, width);
  }
  const ChannelStatistics& statistics() const { return statistics_; }
  const std::vector<SkippedInput>& skipped() const { return skipped_; }
  const std::string& source() const { return source_; }
  const std::string& command_line() const { return command_line_; }
  const std::string& split() const { return split_; }  // "" unless made with --val-split
  std::int64_t format_version() const { return format_version_; }

  // Any layout: the image as (H, W, C) uint8, decoded when stored encoded. Throws kiln::Error
  // naming the file and the index when it cannot be read.
  cv::Mat read_mat(std::int64_t index) const;
  // Only `window` of the image (upright pixels, inside image_size(index)): a JPEG decodes just
  // the rows and block columns the window covers, and stops after its last row (the file was
  // checked when it was written), at 1/2, 1/4 or 1/8 scale while the window stays at least
  // `at_least`. Other layouts read the image and cut. Throws as read_mat does.
  // `area` (optional) receives where exactly the window lies in the returned pixels (all of
  // them unless a reduced scale left a fraction of a pixel over).
  cv::Mat read_window(std::int64_t index, cv::Rect window, cv::Size at_least,
                      cv::Rect2d* area = nullptr) const;
  // Ragged files: the bytes stored for one image (raw pixels or the encoded file), undecoded.
  std::vector<std::uint8_t> read_stored(std::int64_t index) const;
  // Fixed-size files only. out: image_bytes() bytes, (H, W, C).
  void read_image(std::int64_t index, std::span<std::uint8_t> out) const;
  // out: count * image_bytes() bytes, images [first, first + count).
  void read_images(std::int64_t first, std::int64_t count, std::span<std::uint8_t> out) const;

 private:
  // The parts of the constructor, in file order. open_images returns the number of images.
  std::uint64_t open_images(const h5::File& f);
  void read_ragged_index(const h5::File& f);
  void read_labels(const h5::File& f, std::uint64_t images);
  void read_targets(const h5::File& f, std::uint64_t images);
  void read_statistics(const h5::Group& normalization, bool ragged);

  struct Handles;
  std::unique_ptr<Handles> h5_;
  std::string path_;
  std::int64_t height_ = 0, width_ = 0, channels_ = 0;
  std::string channel_order_;
  std::vector<std::string> class_names_;
  std::vector<std::int32_t> labels_;
  nn::Task task_ = nn::Task::kClassification;
  std::vector<float> targets_;
  ChannelStatistics statistics_;
  std::vector<SkippedInput> skipped_;
  std::string source_, command_line_, split_;
  std::int64_t format_version_ = 0;
  std::string encoding_;
  std::int64_t short_side_ = 0, max_side_ = 0;
  std::vector<std::int64_t> offsets_;  // ragged: N + 1 byte offsets into /images
  std::vector<std::int32_t> shapes_;   // ragged: N × (H, W, C)
};

// A human-readable description of a dataset file: schema, counts per class, size, statistics,
// skipped inputs (all of them). What `kiln inspect` prints.
std::string describe_dataset(const DatasetReader& reader);

}  // namespace kiln::io
