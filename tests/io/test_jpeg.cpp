// Window decoding must give exactly the pixels a whole-image decode has at the same place: the
// pipeline's crops read windows, and a crop must not depend on how its pixels were decoded.
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "io/decode.hpp"
#include "io/jpeg.hpp"
#include "tests/support/image_files.hpp"

namespace kiln::io {
namespace {

using testing::encode;

// Noise: any pixel taken from the wrong place, or upsampled from the wrong neighbour, shows.
cv::Mat noise_bgr(int w, int h) {
  cv::Mat m(h, w, CV_8UC3);
  cv::RNG rng(7);
  rng.fill(m, cv::RNG::UNIFORM, 0, 256);
  cv::GaussianBlur(m, m, {3, 3}, 0.8);  // some structure, as in photos
  return m;
}

cv::Mat decode_whole(const std::vector<std::uint8_t>& jpeg, int channels = 3, int d = 1) {
  cv::Mat out;
  std::string error;
  EXPECT_TRUE(decode_jpeg(jpeg, {.window = {}, .denominator = d, .channels = channels}, out, error))
      << error;
  return out;
}

void expect_windows_match(const std::vector<std::uint8_t>& jpeg, int channels) {
  const cv::Mat whole = decode_whole(jpeg, channels);
  // Windows at block edges and off them, touching every border, down to one pixel.
  const cv::Rect windows[] = {{0, 0, 203, 157}, {0, 0, 1, 1},      {16, 16, 16, 16},
                              {17, 9, 33, 40},  {5, 100, 198, 57}, {150, 0, 53, 157},
                              {202, 156, 1, 1}, {31, 47, 2, 90},   {64, 32, 100, 8}};
  for (const cv::Rect& w : windows) {
    for (const bool whole_stream : {true, false}) {
      cv::Mat out;
      std::string error;
      ASSERT_TRUE(decode_jpeg(
          jpeg, {.window = w, .denominator = 1, .channels = channels, .whole_stream = whole_stream},
          out, error))
          << error;
      ASSERT_EQ(out.size(), w.size());
      EXPECT_EQ(cv::norm(out, whole(w), cv::NORM_INF), 0.0)
          << "window " << w << (whole_stream ? " (whole stream)" : " (stops after it)");
    }
  }
}

TEST(JpegWindow, BaselineWindowsEqualTheWholeDecode) {
  const cv::Mat image = noise_bgr(203, 157);  // not a multiple of the 16x16 colour blocks
  expect_windows_match(encode(image, ".jpg", {cv::IMWRITE_JPEG_QUALITY, 90}), 3);
  expect_windows_match(encode(image, ".jpg", {cv::IMWRITE_JPEG_QUALITY, 90}), 1);
}

TEST(JpegWindow, ProgressiveAndGreyWindowsEqualTheWholeDecode) {
  const cv::Mat image = noise_bgr(203, 157);
  expect_windows_match(encode(image, ".jpg", {cv::IMWRITE_JPEG_PROGRESSIVE, 1}), 3);
  cv::Mat grey;
  cv::cvtColor(image, grey, cv::COLOR_BGR2GRAY);
  expect_windows_match(encode(grey, ".jpg"), 3);  // grey JPEG, RGB out
}

// Every position on a grid, tiny and larger windows, baseline and progressive, three scales: a
// crop edge or a skip ending inside a block row once broke exactly such windows.
TEST(JpegWindow, WindowsAllOverASmallImage) {
  const cv::Mat image = noise_bgr(81, 81);
  for (const bool progressive : {false, true}) {
    const std::vector<std::uint8_t> jpeg =
        encode(image, ".jpg", {cv::IMWRITE_JPEG_PROGRESSIVE, progressive ? 1 : 0});
    for (const int d : {1, 2, 4}) {
      const cv::Mat whole = decode_whole(jpeg, 3, d);
      for (int y = 0; y < 81; y += 4) {
        for (int x = 0; x < 81; x += 4) {
          for (const int side : {1, 10}) {
            if (x + side > 81 || y + side > 81) continue;
            cv::Mat out;
            std::string error;
            ASSERT_TRUE(
                decode_jpeg(jpeg, {.window = {x, y, side, side}, .denominator = d}, out, error));
            const cv::Rect scaled(x / d, y / d, scaled_side(x + side, d) - x / d,
                                  scaled_side(y + side, d) - y / d);
            ASSERT_EQ(cv::norm(out, whole(scaled), cv::NORM_INF), 0.0)
                << "window " << cv::Rect(x, y, side, side) << " at 1/" << d
                << (progressive ? " progressive" : "");
          }
        }
      }
    }
  }
}

TEST(JpegWindow, WholeDecodeEqualsOpenCv) {
  const std::vector<std::uint8_t> jpeg = encode(noise_bgr(203, 157), ".jpg");
  cv::Mat reference = cv::imdecode(jpeg, cv::IMREAD_COLOR);
  cv::cvtColor(reference, reference, cv::COLOR_BGR2RGB);
  EXPECT_EQ(cv::norm(decode_whole(jpeg), reference, cv::NORM_INF), 0.0);
}

TEST(JpegWindow, ScaledWindowsEqualTheScaledWholeDecode) {
  const std::vector<std::uint8_t> jpeg = encode(noise_bgr(203, 157), ".jpg");
  for (const int d : {2, 4, 8}) {
    const cv::Mat whole = decode_whole(jpeg, 3, d);
    ASSERT_EQ(whole.size(), cv::Size(scaled_side(203, d), scaled_side(157, d)));
    const cv::Rect w(37, 21, 120, 101);
    cv::Mat out;
    std::string error;
    ASSERT_TRUE(decode_jpeg(jpeg, {.window = w, .denominator = d}, out, error)) << error;
    // Every scaled pixel any window pixel falls into: [floor(x0/d), ceil(x1/d)).
    const cv::Rect scaled(37 / d, 21 / d, scaled_side(157, d) - 37 / d,
                          scaled_side(122, d) - 21 / d);
    ASSERT_EQ(out.size(), scaled.size()) << "1/" << d;
    EXPECT_EQ(cv::norm(out, whole(scaled), cv::NORM_INF), 0.0) << "1/" << d;
  }
}

TEST(JpegWindow, DamageBelowTheWindowIsCaughtOnlyWhenAskedFor) {
  std::vector<std::uint8_t> jpeg = encode(noise_bgr(64, 256), ".jpg");
  jpeg.resize(jpeg.size() * 2 / 3);  // the bottom third is gone
  const cv::Rect top(0, 0, 64, 32);
  cv::Mat out;
  std::string error;
  EXPECT_FALSE(decode_jpeg(jpeg, {.window = top, .whole_stream = true}, out, error));
  EXPECT_NE(error, "");
  EXPECT_TRUE(decode_jpeg(jpeg, {.window = top, .whole_stream = false}, out, error)) << error;
  EXPECT_FALSE(decode_jpeg(jpeg, {.window = {0, 200, 64, 56}, .whole_stream = false}, out, error));
}

TEST(JpegWindow, RefusesWindowsOutsideTheImageAndOddScales) {
  const std::vector<std::uint8_t> jpeg = encode(noise_bgr(40, 30), ".jpg");
  cv::Mat out;
  std::string error;
  EXPECT_FALSE(decode_jpeg(jpeg, {.window = {30, 0, 20, 10}}, out, error));
  EXPECT_NE(error.find("outside the 40x30 image"), std::string::npos) << error;
  EXPECT_FALSE(decode_jpeg(jpeg, {.denominator = 3}, out, error));
  EXPECT_NE(error.find("1/3"), std::string::npos) << error;
}

// Through decode_image: windows of EXIF-turned images are cut from the upright image, and the
// window may shrink in the DCT domain while it stays as large as asked.
// kiln's encoder writes what OpenCV's does for the same pixels (OpenCV takes them as BGR):
// byte for byte, for colour at three qualities and odd sizes, and for grey.
TEST(JpegEncode, SameBytesAsOpenCv) {
  for (const cv::Size size : {cv::Size(37, 23), cv::Size(256, 341)}) {
    const cv::Mat bgr = noise_bgr(size.width, size.height);
    cv::Mat rgb, grey;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    cv::cvtColor(bgr, grey, cv::COLOR_BGR2GRAY);
    for (const int quality : {50, 90, 100}) {
      std::vector<std::uint8_t> ours;
      std::string error;
      ASSERT_TRUE(encode_jpeg(rgb, quality, ours, error)) << error;
      EXPECT_EQ(ours, encode(bgr, ".jpg", {cv::IMWRITE_JPEG_QUALITY, quality}))
          << size << " quality " << quality;
      ASSERT_TRUE(encode_jpeg(grey, quality, ours, error)) << error;
      EXPECT_EQ(ours, encode(grey, ".jpg", {cv::IMWRITE_JPEG_QUALITY, quality}))
          << size << " grey, quality " << quality;
    }
  }
  std::vector<std::uint8_t> bytes;
  std::string error;
  EXPECT_FALSE(encode_jpeg(noise_bgr(8, 8), 0, bytes, error));
  EXPECT_NE(error.find("quality"), std::string::npos) << error;
}

TEST(DecodeWindow, TurnedImagesAndScaling) {
  const std::vector<std::uint8_t> jpeg =
      testing::with_exif_orientation(encode(noise_bgr(96, 64), ".jpg"), 6);
  DecodeOptions whole_options;
  const DecodeResult whole = decode_image(jpeg, whole_options);
  ASSERT_TRUE(whole.ok()) << whole.detail;
  ASSERT_EQ(whole.image.size(), cv::Size(64, 96));  // upright
  DecodeOptions o;
  o.window = {10, 50, 40, 30};
  const DecodeResult window = decode_image(jpeg, o);
  ASSERT_TRUE(window.ok()) << window.detail;
  EXPECT_EQ(window.full_size, cv::Size(64, 96));
  EXPECT_EQ(cv::norm(window.image, whole.image(o.window), cv::NORM_INF), 0.0);

  const std::vector<std::uint8_t> big = encode(noise_bgr(400, 300), ".jpg");
  DecodeOptions shrink;
  shrink.window = {0, 0, 400, 300};
  shrink.min_window_size = {100, 70};
  const DecodeResult quarter = decode_image(big, shrink);
  ASSERT_TRUE(quarter.ok());
  EXPECT_EQ(quarter.denominator, 4);  // 1/8 would give 50x38
  EXPECT_EQ(quarter.image.size(), cv::Size(100, 75));
}

TEST(DecodeWindow, OtherFormatsAreCut) {
  const cv::Mat image = testing::pattern_bgr(20, 10);
  DecodeOptions o;
  o.window = {3, 2, 5, 4};
  const DecodeResult r = decode_image(encode(image, ".png"), o);
  ASSERT_TRUE(r.ok());
  cv::Mat expected;
  cv::cvtColor(image(o.window), expected, cv::COLOR_BGR2RGB);
  EXPECT_EQ(cv::norm(r.image, expected, cv::NORM_INF), 0.0);
  o.window = {18, 0, 5, 4};
  EXPECT_EQ(decode_image(encode(image, ".png"), o).reason, "corrupt");
}

}  // namespace
}  // namespace kiln::io
