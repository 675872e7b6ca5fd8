// Image files for tests, written with OpenCV: real encodings of small synthetic images.
#pragma once

#include <algorithm>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

namespace kiln::testing {

// A w×h BGR image whose pixel (x, y) is (x·7 + y, y·5, 255 − x): every position is distinguishable.
inline cv::Mat pattern_bgr(int w, int h) {
  cv::Mat m(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      m.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>(x * 7 + y), static_cast<uchar>(y * 5),
                                        static_cast<uchar>(255 - x));
  return m;
}

inline std::vector<std::uint8_t> encode(const cv::Mat& image, const std::string& ext,
                                        std::vector<int> params = {}) {
  std::vector<std::uint8_t> bytes;
  cv::imencode(ext, image, bytes, params);
  return bytes;
}

inline void write_bytes(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// Inserts an EXIF APP1 segment with the given orientation right after the JPEG's SOI marker.
inline std::vector<std::uint8_t> with_exif_orientation(const std::vector<std::uint8_t>& jpeg,
                                                       std::uint8_t orientation) {
  const std::vector<std::uint8_t> app1 = {
      0xFF,        0xE1, 0x00, 0x22,              // APP1, length 34
      'E',         'x',  'i',  'f',  0, 0,        // Exif header
      'I',         'I',  42,   0,    8, 0, 0, 0,  // TIFF header, little endian, IFD at 8
      1,           0,                             // one entry
      0x12,        0x01, 3,    0,    1, 0, 0, 0,  // tag 0x0112 (Orientation), SHORT, count 1
      orientation, 0,    0,    0,                 // value
      0,           0,    0,    0};                // no next IFD
  // Sized once and copied into (growing it by insert() trips a GCC 12 -O3 -Warray-bounds false
  // positive).
  std::vector<std::uint8_t> out(jpeg.size() + app1.size());
  const auto after_soi = std::copy(jpeg.begin(), jpeg.begin() + 2, out.begin());
  std::copy(jpeg.begin() + 2, jpeg.end(), std::copy(app1.begin(), app1.end(), after_soi));
  return out;
}

}  // namespace kiln::testing
