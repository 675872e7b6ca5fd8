// GIF input (io/gif.hpp) against images computed by hand: GIFs written with giflib's own encoder,
// palette by palette, and the pixels the decoder must give back.
#include <gif_lib.h>
#include <gtest/gtest.h>

#include <cstring>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "io/decode.hpp"

namespace kiln::io {
namespace {

const GifColorType kPalette[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {10, 20, 30}};

struct Frame {
  int left = 0, top = 0, width = 0, height = 0;
  bool interlaced = false;
  int transparent = NO_TRANSPARENT_COLOR;
  std::vector<GifPixelType> indices;  // row order
};

int write_bytes(GifFileType* gif, const GifByteType* data, int n) {
  auto* out = static_cast<std::vector<std::uint8_t>*>(gif->UserData);
  out->insert(out->end(), data, data + n);
  return n;
}

// A GIF89a of a width × height screen with kPalette as its global palette and `background` as
// its background index, holding `frames` in order.
std::vector<std::uint8_t> write_gif(int width, int height, int background,
                                    const std::vector<Frame>& frames) {
  std::vector<std::uint8_t> bytes;
  int error = 0;
  GifFileType* gif = EGifOpen(&bytes, write_bytes, &error);
  EXPECT_NE(gif, nullptr) << GifErrorString(error);
  EGifSetGifVersion(gif, true);
  ColorMapObject* palette = GifMakeMapObject(4, kPalette);
  EXPECT_EQ(EGifPutScreenDesc(gif, width, height, 2, background, palette), GIF_OK);
  for (const Frame& f : frames) {
    if (f.transparent != NO_TRANSPARENT_COLOR) {
      GraphicsControlBlock gcb{DISPOSAL_UNSPECIFIED, false, 0, f.transparent};
      GifByteType extension[4];
      EGifGCBToExtension(&gcb, extension);
      EXPECT_EQ(EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, 4, extension), GIF_OK);
    }
    EXPECT_EQ(EGifPutImageDesc(gif, f.left, f.top, f.width, f.height, f.interlaced, nullptr),
              GIF_OK);
    // An interlaced frame is written in the order of the four passes (GIF89a, appendix E).
    std::vector<int> rows;
    if (f.interlaced) {
      for (const auto [first, step] : {std::pair{0, 8}, {4, 8}, {2, 4}, {1, 2}}) {
        for (int r = first; r < f.height; r += step) rows.push_back(r);
      }
    } else {
      for (int r = 0; r < f.height; ++r) rows.push_back(r);
    }
    for (const int r : rows) {
      std::vector<GifPixelType> line(f.indices.begin() + r * f.width,
                                     f.indices.begin() + (r + 1) * f.width);
      EXPECT_EQ(EGifPutLine(gif, line.data(), f.width), GIF_OK);
    }
  }
  EXPECT_EQ(EGifCloseFile(gif, &error), GIF_OK) << GifErrorString(error);
  GifFreeMapObject(palette);
  return bytes;
}

cv::Vec3b rgb(int index) {
  const GifColorType& c = kPalette[index];
  return {c.Red, c.Green, c.Blue};
}

// The screen a decoder must give: background everywhere, the frame's pixels painted over it,
// transparent ones too (in their palette colour, as PIL's convert("RGB")).
cv::Mat expected(int width, int height, int background, const Frame& f) {
  cv::Mat image(height, width, CV_8UC3,
                cv::Scalar(rgb(background)[0], rgb(background)[1], rgb(background)[2]));
  for (int y = 0; y < f.height; ++y) {
    for (int x = 0; x < f.width; ++x) {
      const int index = f.indices[static_cast<std::size_t>(y * f.width + x)];
      image.at<cv::Vec3b>(f.top + y, f.left + x) = rgb(index);
    }
  }
  return image;
}

bool same(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

TEST(Gif, FirstFrameOnItsScreenWithBackgroundAndItsTransparentColour) {
  const Frame f{1, 1, 3, 2, false, 2, {0, 1, 2, 2, 1, 0}};
  const std::vector<std::uint8_t> bytes = write_gif(5, 4, 3, {f});
  const DecodeResult r = decode_image(bytes, {});
  ASSERT_TRUE(r.ok()) << r.reason << ": " << r.detail;
  EXPECT_TRUE(same(r.image, expected(5, 4, 3, f)));
  // The screen's corner is the background, (1, 1) the frame's red, (3, 1) the transparent
  // index's own blue.
  EXPECT_EQ(r.image.at<cv::Vec3b>(0, 0), cv::Vec3b(10, 20, 30));
  EXPECT_EQ(r.image.at<cv::Vec3b>(1, 1), cv::Vec3b(255, 0, 0));
  EXPECT_EQ(r.image.at<cv::Vec3b>(1, 3), cv::Vec3b(0, 0, 255));
}

TEST(Gif, InterlacedRowsComeOutInOrder) {
  Frame f{0, 0, 2, 11, true, NO_TRANSPARENT_COLOR, {}};
  for (int row = 0; row < 11; ++row) f.indices.insert(f.indices.end(), {row % 4, (row / 4) % 4});
  const DecodeResult r = decode_image(write_gif(2, 11, 0, {f}), {});
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_TRUE(same(r.image, expected(2, 11, 0, f)));
}

TEST(Gif, OnlyTheFirstFrameOfAnAnimationAndGreyOnRequest) {
  const Frame first{0, 0, 2, 2, false, NO_TRANSPARENT_COLOR, {0, 1, 2, 3}};
  const Frame second{0, 0, 2, 2, false, NO_TRANSPARENT_COLOR, {3, 3, 3, 3}};
  const std::vector<std::uint8_t> bytes = write_gif(2, 2, 0, {first, second});
  const DecodeResult colour = decode_image(bytes, {});
  ASSERT_TRUE(colour.ok()) << colour.detail;
  EXPECT_TRUE(same(colour.image, expected(2, 2, 0, first)));
  const DecodeResult grey = decode_image(bytes, {.channels = 1});
  ASSERT_TRUE(grey.ok()) << grey.detail;
  cv::Mat want;
  cv::cvtColor(expected(2, 2, 0, first), want, cv::COLOR_RGB2GRAY);
  EXPECT_TRUE(same(grey.image, want));
  // A window is cut from the first frame like from any other image.
  const DecodeResult window = decode_image(bytes, {.window = cv::Rect(1, 0, 1, 2)});
  ASSERT_TRUE(window.ok()) << window.detail;
  EXPECT_TRUE(same(window.image, expected(2, 2, 0, first)(cv::Rect(1, 0, 1, 2))));
}

TEST(Gif, DamageIsReportedNotRead) {
  const Frame f{0, 0, 8, 8, false, NO_TRANSPARENT_COLOR, std::vector<GifPixelType>(64, 1)};
  std::vector<std::uint8_t> bytes = write_gif(8, 8, 0, {f});
  std::vector<std::uint8_t> cut(bytes.begin(),
                                bytes.begin() + static_cast<long>(bytes.size()) - 12);
  const DecodeResult truncated = decode_image(cut, {});
  EXPECT_EQ(truncated.reason, "truncated") << truncated.detail;
  // A screen claiming 60000 x 60000 pixels is refused before any pixel is decoded.
  std::vector<std::uint8_t> huge = bytes;
  huge[6] = huge[8] = 0x60;
  huge[7] = huge[9] = 0xEA;
  const DecodeResult bomb = decode_image(huge, {});
  EXPECT_EQ(bomb.reason, "too many pixels") << bomb.detail;
  // A frame outside its screen.
  std::vector<std::uint8_t> small_screen = bytes;
  small_screen[6] = 4;  // screen width 4, frame width 8
  const DecodeResult outside = decode_image(small_screen, {});
  EXPECT_EQ(outside.reason, "corrupt") << outside.detail;
}

}  // namespace
}  // namespace kiln::io
