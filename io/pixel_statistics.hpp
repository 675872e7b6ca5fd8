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
  std::vector<std::uint64_t> position_sums() const;  // per position, (H, W, C) order

  // The sums as one array of words, and back: how ranks of a sharded preprocess send theirs to
  // rank 0, which merges them into exactly the single-process sums.
  std::vector<std::uint64_t> words() const;
  // Throws kiln::Error when `words` is not what words() gives for these dimensions.
  static PixelStatistics from_words(int channels, std::int64_t image_bytes,
                                    std::span<const std::uint64_t> words);

 private:
  void flush_positions();

  int channels_;
  std::vector<std::uint64_t> sum_, products_, position_totals_;
  // The latest images' per-position sums in 16 bits: 257 images of 255 fit (257 · 255 = 65535),
  // then they are flushed into position_totals_. For 224×224×3 that is 300 KB, which stays in
  // the core's cache; adding every image to 64-bit sums (1.2 MB) was half the cost of add().
  std::vector<std::uint16_t> position_pending_;
  int pending_images_ = 0;
  std::int64_t pixels_ = 0, images_ = 0;
};

}  // namespace kiln::io
