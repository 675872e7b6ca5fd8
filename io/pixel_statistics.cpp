#include "io/pixel_statistics.hpp"

#include <algorithm>
#include <string>

#include "nn/error.hpp"

namespace kiln::io {

PixelStatistics::PixelStatistics(int channels, std::int64_t image_bytes)
    : channels_(channels),
      sum_(static_cast<std::size_t>(channels), 0),
      products_(static_cast<std::size_t>(channels * channels), 0),
      position_sums_(static_cast<std::size_t>(std::max<std::int64_t>(image_bytes, 0)), 0) {
  if (channels != 1 && channels != 3)
    throw Error("pixel statistics: 1 or 3 channels, got " + std::to_string(channels));
}

void PixelStatistics::add(std::span<const std::uint8_t> image) {
  const auto c = static_cast<std::size_t>(channels_);
  if (!position_sums_.empty() && image.size() != position_sums_.size()) {
    throw Error("pixel statistics: an image of " + std::to_string(image.size()) +
                " bytes where every image has " + std::to_string(position_sums_.size()));
  }
  const std::size_t count = image.size() / c;
  // 255² · 2^45 pixels still fit in 64 bits. 32-bit partial sums over runs of 65536 pixels
  // (255² · 65536 < 2^32) keep the loop in registers and let it vectorize.
  constexpr std::size_t kRun = 65536;
  for (std::size_t first = 0; first < count; first += kRun) {
    const std::size_t n = std::min(kRun, count - first);
    const std::uint8_t* q = image.data() + first * c;
    if (c == 3) {
      std::uint32_t s0 = 0, s1 = 0, s2 = 0, p00 = 0, p01 = 0, p02 = 0, p11 = 0, p12 = 0, p22 = 0;
      for (std::size_t k = 0; k < n; ++k) {
        const std::uint32_t r = q[3 * k], g = q[3 * k + 1], b = q[3 * k + 2];
        s0 += r, s1 += g, s2 += b;
        p00 += r * r, p01 += r * g, p02 += r * b, p11 += g * g, p12 += g * b, p22 += b * b;
      }
      sum_[0] += s0, sum_[1] += s1, sum_[2] += s2;
      products_[0] += p00, products_[1] += p01, products_[2] += p02, products_[4] += p11,
          products_[5] += p12, products_[8] += p22;
    } else {
      std::uint32_t s0 = 0, p00 = 0;
      for (std::size_t k = 0; k < n; ++k) {
        const std::uint32_t v = q[k];
        s0 += v, p00 += v * v;
      }
      sum_[0] += s0;
      products_[0] += p00;
    }
  }
  for (std::size_t k = 0; k < position_sums_.size(); ++k) position_sums_[k] += image[k];
  pixels_ += static_cast<std::int64_t>(count);
  ++images_;
}

void PixelStatistics::merge(const PixelStatistics& other) {
  if (other.channels_ != channels_ || other.position_sums_.size() != position_sums_.size())
    throw Error("pixel statistics: merging sums of differently shaped images");
  for (std::size_t k = 0; k < sum_.size(); ++k) sum_[k] += other.sum_[k];
  for (std::size_t k = 0; k < products_.size(); ++k) products_[k] += other.products_[k];
  for (std::size_t k = 0; k < position_sums_.size(); ++k)
    position_sums_[k] += other.position_sums_[k];
  pixels_ += other.pixels_;
  images_ += other.images_;
}

}  // namespace kiln::io
