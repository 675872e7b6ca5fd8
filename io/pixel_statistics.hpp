// PixelStatistics: exact integer sums over uint8 images — per channel, the C×C products (for the
// covariance) and, for fixed-size data, per position (for the mean image).
// Integer addition is associative, so sums taken on any number of threads and merged in any
// order are identical: preprocess counts in its parallel decode node, not in the serial writer.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace kiln::io {

class PixelStatistics {
 public:
  // image_bytes > 0: every image added has exactly that many bytes and gets per-position sums.
  PixelStatistics(int channels, std::int64_t image_bytes);

  void add(std::span<const std::uint8_t> image);  // one image, (H, W, C)
  void merge(const PixelStatistics& other);

  int channels() const { return channels_; }
  std::int64_t pixels() const { return pixels_; }
  std::int64_t images() const { return images_; }
  const std::vector<std::uint64_t>& sum() const { return sum_; }            // per channel
  const std::vector<std::uint64_t>& products() const { return products_; }  // C×C, upper half
  const std::vector<std::uint64_t>& position_sums() const { return position_sums_; }

 private:
  int channels_;
  std::vector<std::uint64_t> sum_, products_, position_sums_;
  std::int64_t pixels_ = 0, images_ = 0;
};

}  // namespace kiln::io
