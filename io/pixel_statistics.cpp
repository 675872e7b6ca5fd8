#include "io/pixel_statistics.hpp"

#include <algorithm>
#include <string>

#include "nn/error.hpp"

namespace kiln::io {

PixelStatistics::PixelStatistics(int channels, std::int64_t image_bytes)
    : channels_(channels),
      sum_(static_cast<std::size_t>(channels), 0),
      products_(static_cast<std::size_t>(channels * channels), 0),
      position_totals_(static_cast<std::size_t>(std::max<std::int64_t>(image_bytes, 0)), 0),
      position_pending_(position_totals_.size(), 0) {
  if (channels != 1 && channels != 3)
    throw Error("pixel statistics: 1 or 3 channels, got " + std::to_string(channels));
}

namespace {

constexpr int kPendingImages = 65535 / 255;  // images whose bytes a uint16 sum holds

// A function of its own so that the compiler knows the two arrays do not overlap (uint8_t may
// alias anything) and vectorizes the loop.
void add_bytes(std::uint16_t* __restrict sums, const std::uint8_t* __restrict bytes,
               std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) sums[i] = static_cast<std::uint16_t>(sums[i] + bytes[i]);
}

}  // namespace

void PixelStatistics::flush_positions() {
  for (std::size_t i = 0; i < position_totals_.size(); ++i) {
    position_totals_[i] += position_pending_[i];
    position_pending_[i] = 0;
  }
  pending_images_ = 0;
}

std::vector<std::uint64_t> PixelStatistics::position_sums() const {
  std::vector<std::uint64_t> sums = position_totals_;
  for (std::size_t i = 0; i < sums.size(); ++i) sums[i] += position_pending_[i];
  return sums;
}

std::vector<std::uint64_t> PixelStatistics::words() const {
  std::vector<std::uint64_t> out = {static_cast<std::uint64_t>(images_),
                                    static_cast<std::uint64_t>(pixels_)};
  out.insert(out.end(), sum_.begin(), sum_.end());
  out.insert(out.end(), products_.begin(), products_.end());
  const std::vector<std::uint64_t> positions = position_sums();
  out.insert(out.end(), positions.begin(), positions.end());
  return out;
}

PixelStatistics PixelStatistics::from_words(int channels, std::int64_t image_bytes,
                                            std::span<const std::uint64_t> words) {
  PixelStatistics s(channels, image_bytes);
  const std::size_t expected = 2 + s.sum_.size() + s.products_.size() + s.position_totals_.size();
  if (words.size() != expected) {
    throw Error("pixel statistics: " + std::to_string(words.size()) + " words where " +
                std::to_string(expected) + " were expected");
  }
  s.images_ = static_cast<std::int64_t>(words[0]);
  s.pixels_ = static_cast<std::int64_t>(words[1]);
  auto at = words.begin() + 2;
  for (auto* part : {&s.sum_, &s.products_, &s.position_totals_}) {
    std::copy_n(at, part->size(), part->begin());
    at += static_cast<std::ptrdiff_t>(part->size());
  }
  return s;
}

void PixelStatistics::add(std::span<const std::uint8_t> image) {
  const auto c = static_cast<std::size_t>(channels_);
  if (!position_totals_.empty() && image.size() != position_totals_.size()) {
    throw Error("pixel statistics: an image of " + std::to_string(image.size()) +
                " bytes where every image has " + std::to_string(position_totals_.size()));
  }
  const std::size_t count = image.size() / c;
  const std::uint8_t* x = image.data();
  // The bytes in blocks of 48 (16 RGB pixels, or 48 grey ones): lane j of a block always holds
  // channel j % c, and with the next two bytes it holds the products that channel needs — for RGB,
  // lane 3i: r·r, r·g, r·b; lane 3i+1: g·g, g·b; lane 3i+2: b·b (its other two products belong to
  // the next pixel and are not used). Fixed-size lanes vectorize; 32-bit lane sums are flushed
  // to the 64-bit totals before they can overflow (255² · 65536 < 2^32).
  constexpr std::size_t kLanes = 48, kBlocksPerFlush = 65536;
  const std::size_t usable = image.size() >= 2 ? image.size() - 2 : 0;  // x[k + 2] must exist
  std::size_t k = 0;
  while (k + kLanes <= usable) {
    std::uint32_t s[kLanes] = {}, p0[kLanes] = {}, p1[kLanes] = {}, p2[kLanes] = {};
    for (std::size_t block = 0; block < kBlocksPerFlush && k + kLanes <= usable;
         ++block, k += kLanes) {
      for (std::size_t j = 0; j < kLanes; ++j) {
        const std::uint32_t v = x[k + j];
        s[j] += v;
        p0[j] += v * v;
        p1[j] += v * x[k + j + 1];
        p2[j] += v * x[k + j + 2];
      }
    }
    for (std::size_t j = 0; j < kLanes; ++j) {
      const std::size_t channel = j % c;
      sum_[channel] += s[j];
      products_[channel * c + channel] += p0[j];
      if (c == 3 && channel < 2) products_[channel * 3 + channel + 1] += p1[j];
      if (c == 3 && channel == 0) products_[2] += p2[j];
    }
  }
  for (; k < image.size(); ++k) {  // the last bytes, one at a time
    const std::size_t channel = k % c;
    const std::uint64_t v = x[k];
    sum_[channel] += v;
    products_[channel * c + channel] += v * v;
    if (c == 3 && channel < 2) products_[channel * 3 + channel + 1] += v * x[k + 1];
    if (c == 3 && channel == 0) products_[2] += v * x[k + 2];
  }
  if (!position_pending_.empty()) {
    if (pending_images_ == kPendingImages) flush_positions();
    add_bytes(position_pending_.data(), image.data(), image.size());
    ++pending_images_;
  }
  pixels_ += static_cast<std::int64_t>(count);
  ++images_;
}

void PixelStatistics::merge(const PixelStatistics& other) {
  if (other.channels_ != channels_ || other.position_totals_.size() != position_totals_.size())
    throw Error("pixel statistics: merging sums of differently shaped images");
  for (std::size_t k = 0; k < sum_.size(); ++k) sum_[k] += other.sum_[k];
  for (std::size_t k = 0; k < products_.size(); ++k) products_[k] += other.products_[k];
  for (std::size_t k = 0; k < position_totals_.size(); ++k)
    position_totals_[k] += other.position_totals_[k] + other.position_pending_[k];
  pixels_ += other.pixels_;
  images_ += other.images_;
}

}  // namespace kiln::io
