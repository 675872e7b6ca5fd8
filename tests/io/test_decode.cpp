#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "io/decode.hpp"
#include "io/opencv_codecs.hpp"
#include "tests/support/image_files.hpp"

namespace kiln::io {
namespace {

using testing::encode;
using testing::pattern_bgr;

DecodeResult decode(const std::vector<std::uint8_t>& bytes, int channels = 3,
                    int min_short_side = 0, std::int64_t max_pixels = 178956970) {
  return decode_image(bytes, {channels, max_pixels, min_short_side});
}

TEST(Decode, PngBecomesRgbWithExactPixels) {
  const cv::Mat bgr = pattern_bgr(9, 5);
  const DecodeResult r = decode(encode(bgr, ".png"));
  ASSERT_TRUE(r.ok()) << r.reason << ": " << r.detail;
  ASSERT_EQ(r.image.type(), CV_8UC3);
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 9; ++x) {
      const cv::Vec3b p = bgr.at<cv::Vec3b>(y, x), q = r.image.at<cv::Vec3b>(y, x);
      ASSERT_EQ(q, cv::Vec3b(p[2], p[1], p[0])) << x << "," << y;  // RGB inside kiln
    }
}

// OpenCV takes an int byte count: a larger file is refused by name before anything is read
// (only the span's size is over the limit here; its bytes past the first are never touched).
TEST(Decode, OpenCvRefusesFilesOverTwoGibibytes) {
  const std::vector<std::uint8_t> png = testing::encode(testing::pattern_bgr(4, 4), ".png");
  const std::size_t huge = std::size_t{3} << 30;
  std::string error;
  EXPECT_TRUE(opencv_decode({png.data(), huge}, cv::IMREAD_UNCHANGED, error).empty());
  EXPECT_NE(error.find("at most 2 GiB"), std::string::npos) << error;
  error.clear();
  EXPECT_FALSE(opencv_decode(png, cv::IMREAD_UNCHANGED, error).empty()) << error;
}

TEST(Decode, JpegMatchesOpenCv) {
  const std::vector<std::uint8_t> jpeg =
      encode(pattern_bgr(40, 24), ".jpg", {cv::IMWRITE_JPEG_QUALITY, 90});
  const DecodeResult r = decode(jpeg);
  ASSERT_TRUE(r.ok()) << r.detail;
  cv::Mat reference = cv::imdecode(jpeg, cv::IMREAD_COLOR);
  cv::cvtColor(reference, reference, cv::COLOR_BGR2RGB);
  EXPECT_EQ(cv::norm(r.image, reference, cv::NORM_INF), 0.0);  // the same libjpeg-turbo underneath
}

TEST(Decode, ConvertsChannelsBothWays) {
  cv::Mat grey(4, 6, CV_8UC1, cv::Scalar(77));
  const DecodeResult rgb = decode(encode(grey, ".png"), 3);
  ASSERT_TRUE(rgb.ok());
  EXPECT_EQ(rgb.image.at<cv::Vec3b>(2, 3), cv::Vec3b(77, 77, 77));
  const DecodeResult one = decode(encode(pattern_bgr(6, 4), ".png"), 1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one.image.type(), CV_8UC1);
}

TEST(Decode, SixteenBitAndAlphaAreConverted) {
  cv::Mat deep(3, 3, CV_16UC3, cv::Scalar(65535, 0, 257 * 100));
  const DecodeResult r16 = decode(encode(deep, ".png"));
  ASSERT_TRUE(r16.ok());
  EXPECT_EQ(r16.image.at<cv::Vec3b>(1, 1), cv::Vec3b(100, 0, 255));
  cv::Mat rgba(3, 3, CV_8UC4, cv::Scalar(10, 20, 30, 0));  // fully transparent
  const DecodeResult ra = decode(encode(rgba, ".png"));
  ASSERT_TRUE(ra.ok());
  EXPECT_EQ(ra.image.at<cv::Vec3b>(0, 0), cv::Vec3b(30, 20, 10));  // alpha dropped
}

TEST(Decode, AppliesExifOrientation) {
  const std::vector<std::uint8_t> jpeg =
      encode(pattern_bgr(32, 16), ".jpg", {cv::IMWRITE_JPEG_QUALITY, 100});
  const DecodeResult upright = decode(jpeg);
  const DecodeResult rotated =
      decode(testing::with_exif_orientation(jpeg, 6));  // rotate 90° clockwise
  ASSERT_TRUE(upright.ok());
  ASSERT_TRUE(rotated.ok()) << rotated.detail;
  ASSERT_EQ(rotated.image.size(), cv::Size(16, 32));
  cv::Mat expected;
  cv::rotate(upright.image, expected, cv::ROTATE_90_CLOCKWISE);
  EXPECT_EQ(cv::norm(rotated.image, expected, cv::NORM_INF), 0.0);
}

TEST(Decode, ScalesLargeJpegsInTheDctDomain) {
  const std::vector<std::uint8_t> jpeg = encode(pattern_bgr(800, 600), ".jpg");
  const DecodeResult r = decode(jpeg, 3, 150);  // 1/4 keeps the short side at exactly 150
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.image.size(), cv::Size(200, 150));
  // Only 1/2, 1/4, 1/8: 3/8 would fit 151, but libjpeg-turbo's scalar 3/8 decode is slower.
  EXPECT_EQ(decode(jpeg, 3, 151).image.size(), cv::Size(400, 300));
  EXPECT_EQ(decode(jpeg, 3, 0).image.size(), cv::Size(800, 600));
}

TEST(Decode, ReportsEveryKindOfBadInput) {
  EXPECT_EQ(decode({}).reason, "empty file");
  const std::string text = "this is a text file named photo.jpg\n";
  EXPECT_EQ(decode(std::vector<std::uint8_t>(text.begin(), text.end())).reason, "not an image");

  std::vector<std::uint8_t> jpeg = encode(pattern_bgr(64, 64), ".jpg");
  jpeg.resize(jpeg.size() / 2);
  EXPECT_EQ(decode(jpeg).reason, "truncated");

  // A PNG whose header claims 100000 x 100000 pixels: refused before anything is inflated.
  std::vector<std::uint8_t> png = encode(pattern_bgr(4, 4), ".png");
  const std::uint8_t huge[] = {0x00, 0x01, 0x86, 0xA0};  // 100000, big endian
  std::copy(std::begin(huge), std::end(huge), png.begin() + 16);
  std::copy(std::begin(huge), std::end(huge), png.begin() + 20);
  const DecodeResult bomb = decode(png);
  EXPECT_EQ(bomb.reason, "too many pixels");
  EXPECT_NE(bomb.detail.find("100000x100000"), std::string::npos) << bomb.detail;

  // The same for a BMP (width and height little-endian at 18 and 22; a negative height is
  // top-down): OpenCV would allocate the claim from a 54-byte file.
  std::vector<std::uint8_t> bmp = encode(pattern_bgr(4, 4), ".bmp");
  const std::uint8_t wide[] = {0xA0, 0x86, 0x01, 0x00}, tall[] = {0x60, 0x79, 0xFE, 0xFF};
  std::copy(std::begin(wide), std::end(wide), bmp.begin() + 18);  // 100000
  std::copy(std::begin(tall), std::end(tall), bmp.begin() + 22);  // -100000
  const DecodeResult bmp_bomb = decode(bmp);
  EXPECT_EQ(bmp_bomb.reason, "too many pixels");
  EXPECT_NE(bmp_bomb.detail.find("100000x100000"), std::string::npos) << bmp_bomb.detail;

  // A GIF header and screen with nothing after them.
  const std::vector<std::uint8_t> gif = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0, 0, 0};
  const DecodeResult g = decode(gif);
  EXPECT_FALSE(g.ok());
  EXPECT_NE(g.detail.find("GIF"), std::string::npos) << g.detail;

  EXPECT_EQ(decode(encode(pattern_bgr(100, 100), ".jpg"), 3, 0, 5000).reason, "too many pixels");
}

}  // namespace
}  // namespace kiln::io
