// random_erasing against hand-computed images and the definition of its draws.
#include <gtest/gtest.h>

#include <cmath>

#include "nn/error.hpp"
#include "pipeline/transforms/random_erasing.hpp"
#include "pipeline/transforms/registry.hpp"

namespace kiln::pipeline {
namespace {

cv::Mat ramp(int h, int w, int channels) {
  cv::Mat m(h, w, CV_8UC(channels));
  for (int i = 0; i < h * w * channels; ++i) m.data[i] = static_cast<std::uint8_t>(i);
  return m;
}

RandomErasing with_fill(const std::string& fill, int value = 0) {
  RandomErasing t;
  t.fill = fill;
  t.value = value;
  t.validate();
  return t;
}

TEST(RandomErasing, ConstantFillsExactlyTheDrawnRectangle) {
  cv::Mat image = ramp(4, 5, 1);  // row y holds 5y .. 5y + 4
  with_fill("constant", 7).apply({cv::Rect(1, 2, 3, 1), 0}, image);
  const std::uint8_t expected[4][5] = {
      {0, 1, 2, 3, 4}, {5, 6, 7, 8, 9}, {10, 7, 7, 7, 14}, {15, 16, 17, 18, 19}};
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 5; ++x) EXPECT_EQ(image.at<std::uint8_t>(y, x), expected[y][x]) << y << x;
}

TEST(RandomErasing, MeanFillsWithTheImagesOwnChannelMeans) {
  // Channel means of this 2x2 RGB image: R (10+20+30+40)/4 = 25, G 2.5 -> rounds to 3 (half up
  // away from zero), B 200.
  cv::Mat image(2, 2, CV_8UC3);
  const cv::Vec3b pixels[4] = {{10, 0, 200}, {20, 1, 200}, {30, 4, 200}, {40, 5, 200}};
  for (int i = 0; i < 4; ++i) image.at<cv::Vec3b>(i / 2, i % 2) = pixels[i];
  with_fill("mean").apply({cv::Rect(0, 0, 1, 1), 0}, image);
  EXPECT_EQ(image.at<cv::Vec3b>(0, 0), cv::Vec3b(25, 3, 200));
  EXPECT_EQ(image.at<cv::Vec3b>(1, 1), cv::Vec3b(40, 5, 200));  // outside: untouched
}

TEST(RandomErasing, RandomFillIsNoiseKeyedByTheDraw) {
  const RandomErasing t = with_fill("random");
  const cv::Mat original(16, 16, CV_8UC3, cv::Scalar::all(0));
  cv::Mat a = original.clone(), b = original.clone(), c = original.clone();
  t.apply({cv::Rect(2, 3, 8, 6), 11}, a);
  t.apply({cv::Rect(2, 3, 8, 6), 11}, b);
  t.apply({cv::Rect(2, 3, 8, 6), 12}, c);
  EXPECT_EQ(cv::norm(a, b, cv::NORM_INF), 0.0);
  EXPECT_GT(cv::norm(a, c, cv::NORM_INF), 0.0);
  // Only the rectangle changes, and 144 noise values are not all alike.
  cv::Mat outside = a.clone();
  outside(cv::Rect(2, 3, 8, 6)).setTo(cv::Scalar::all(0));
  EXPECT_EQ(cv::countNonZero(outside.reshape(1)), 0);
  double lo = 0, hi = 0;
  cv::minMaxLoc(a(cv::Rect(2, 3, 8, 6)).clone().reshape(1), &lo, &hi);
  EXPECT_LT(lo, 64);
  EXPECT_GT(hi, 192);
}

TEST(RandomErasing, DrawsFollowProbabilityAreaAndRatioRanges) {
  RandomErasing t;
  t.p = 1.f;
  const cv::Size size(64, 48);
  int erased = 0;
  for (std::uint64_t i = 0; i < 300; ++i) {
    nn::Rng rng({3, 1, i, 1});
    const RandomErasing::Draw d = t.draw(size, rng);
    if (d.rect.empty()) continue;  // ten misses: no erasing
    ++erased;
    ASSERT_EQ(d.rect & cv::Rect({0, 0}, size), d.rect);
    ASSERT_LT(d.rect.width, size.width);
    ASSERT_LT(d.rect.height, size.height);
    // Rounding each side moves the area by at most about one row and one column.
    const double area = static_cast<double>(d.rect.area()) / size.area();
    const double slack = static_cast<double>(d.rect.width + d.rect.height + 1) / size.area();
    EXPECT_GE(area, t.area_min - slack);
    EXPECT_LE(area, t.area_max + slack);
    const double ratio = static_cast<double>(d.rect.height) / d.rect.width;
    EXPECT_GE(ratio, t.ratio_min * 0.5);
    EXPECT_LE(ratio, t.ratio_max * 2.0);
  }
  EXPECT_GT(erased, 250);
  t.p = 0.f;
  for (std::uint64_t i = 0; i < 50; ++i) {
    nn::Rng rng({3, 1, i, 1});
    EXPECT_TRUE(t.draw(size, rng).rect.empty());
  }
  EXPECT_TRUE(t.eval(size).rect.empty());
}

TEST(RandomErasing, OptionsAreCheckedByName) {
  EXPECT_THROW(make_stage("random_erasing", {{"area_range", {0.0, 0.5}}}), Error);
  EXPECT_THROW(make_stage("random_erasing", {{"fill", "blue"}}), Error);
  EXPECT_THROW(make_stage("random_erasing", {{"value", 300}}), Error);
  EXPECT_THROW(make_stage("random_erasing", {{"scale", {0.1, 0.2}}}), Error);
  const Json config = make_stage("random_erasing", {{"p", 0.25}, {"fill", "mean"}})->config();
  EXPECT_EQ(config.at("fill"), "mean");
  EXPECT_FLOAT_EQ(config.at("p").get<float>(), 0.25f);
  EXPECT_FLOAT_EQ(config.at("area_range")[1].get<float>(), 0.33f);  // the struct's default
}

}  // namespace
}  // namespace kiln::pipeline
