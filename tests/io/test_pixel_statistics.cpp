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

// Per-position sums are kept in 16 bits for 257 images at a time: over a thousand images, the
// first 600 of the largest value (one image more per round would overflow), every position sum
// is still exact — in one part, and merged from parts that stopped at different points of their
// 257-image rounds.
TEST(PixelStatistics, PositionSumsStayExactPastTheNarrowRounds) {
  constexpr std::size_t kBytes = 2 * 3 * 3;
  const std::vector<std::uint8_t> white(kBytes, 255);
  PixelStatistics whole(3, kBytes), first(3, kBytes), second(3, kBytes);
  std::vector<std::uint64_t> expected(kBytes, 0);
  for (int i = 0; i < 1100; ++i) {
    const auto image = i < 600 ? white : random_bytes(kBytes, static_cast<unsigned>(i));
    whole.add(image);
    (i < 300 ? first : second).add(image);
    for (std::size_t k = 0; k < kBytes; ++k) expected[k] += image[k];
  }
  EXPECT_EQ(whole.position_sums(), expected);
  first.merge(second);
  EXPECT_EQ(first.position_sums(), expected);
}

}  // namespace
}  // namespace kiln::io
