// decode_image: encoded bytes → an RGB (or grey) uint8 image, or the reason it cannot be one.
// kiln is RGB inside: the conversion from OpenCV's BGR happens here, once.
//   JPEG     libturbojpeg (1.6x faster than cv::imdecode here, identical pixels), with the EXIF
//            orientation applied, and DCT-domain downscaling (1/2, 1/4, 1/8) when the caller needs
//            no more than a given short side — the largest single speed-up on big photos.
//            CMYK/YCCK JPEGs go through OpenCV.
//   others   OpenCV (PNG, BMP, TIFF, WebP, PPM/PGM). 16-bit → 8-bit, alpha dropped (as PIL's
//            convert("RGB")), palette expanded, grey ↔ RGB converted to the requested channels.
// Failures are data, not exceptions (a bad file must not stop a parallel decode), with a reason:
//   "empty file", "truncated", "not an image", "too many pixels", "unsupported format", "corrupt".
#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <span>
#include <string>

namespace kiln::io {

struct DecodeOptions {
  int channels = 3;                     // 1 (grey) or 3 (RGB)
  std::int64_t max_pixels = 178956970;  // decompression-bomb guard (PIL's default limit)
  int min_short_side = 0;               // > 0: JPEG may decode at 1/2..1/8 scale down to this
};

struct DecodeResult {
  cv::Mat image;       // (H, W, channels) uint8, continuous; empty on failure
  std::string reason;  // empty on success: "truncated", "not an image", ...
  std::string detail;  // what exactly, for the user
  bool ok() const { return reason.empty(); }
};

DecodeResult decode_image(std::span<const std::uint8_t> bytes, const DecodeOptions& options);

// Reads a whole file; on failure returns false and sets `error`.
bool read_file(const std::string& path, std::vector<std::uint8_t>& bytes, std::string& error);

}  // namespace kiln::io
