#include <gtest/gtest.h>

#include <random>

#include "io/pixel_statistics.hpp"

namespace kiln::io {
namespace {

std::vector<std::uint8_t> random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> bytes(n);
  for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
  return bytes;
}

// The blocked, lane-wise sums against the plain definition, on sizes that leave every kind of
// tail (not a multiple of the 48-byte blocks), for RGB and grey.
TEST(PixelStatistics, SumsAndProductsEqualTheDirectComputation) {
  for (const int channels : {3, 1}) {
    for (const std::size_t pixels : {std::size_t{1}, std::size_t{16}, std::size_t{17},
                                     std::size_t{37 * 23}, std::size_t{70001}}) {
      const auto image =
          random_bytes(pixels * static_cast<std::size_t>(channels), static_cast<unsigned>(pixels));
      PixelStatistics stats(channels, 0);
      stats.add(image);
      const auto c = static_cast<std::size_t>(channels);
      std::vector<std::uint64_t> sum(c, 0), products(c * c, 0);
      for (std::size_t p = 0; p < pixels; ++p) {
        for (std::size_t a = 0; a < c; ++a) {
          sum[a] += image[p * c + a];
          for (std::size_t b = a; b < c; ++b)
            products[a * c + b] += std::uint64_t{image[p * c + a]} * image[p * c + b];
        }
      }
      EXPECT_EQ(stats.sum(), sum) << channels << " channels, " << pixels << " pixels";
      EXPECT_EQ(stats.products(), products) << channels << " channels, " << pixels << " pixels";
      EXPECT_EQ(stats.pixels(), static_cast<std::int64_t>(pixels));
    }
  }
}

TEST(PixelStatistics, MergedPartsEqualTheWholeAndPositionsAreSummed) {
  const auto a = random_bytes(4 * 5 * 3, 1), b = random_bytes(4 * 5 * 3, 2);
  PixelStatistics whole(3, 60), first(3, 60), second(3, 60);
  whole.add(a);
  whole.add(b);
  first.add(a);
  second.add(b);
  second.merge(first);  // any order
  EXPECT_EQ(second.sum(), whole.sum());
  EXPECT_EQ(second.products(), whole.products());
  EXPECT_EQ(second.images(), 2);
  for (std::size_t k = 0; k < 60; ++k) EXPECT_EQ(whole.position_sums()[k], a[k] + b[k]);
  EXPECT_THROW(whole.add(random_bytes(30, 3)), std::exception);  // not the fixed size
}

}  // namespace
}  // namespace kiln::io
