// decode_image: encoded bytes → an RGB (or grey) uint8 image, or the reason it cannot be one.
// kiln is RGB inside: the conversion from OpenCV's BGR happens here, once.
//   JPEG     libjpeg-turbo without OpenCV's imgcodecs layer (io/jpeg.hpp; 1.6x faster than
//            cv::imdecode here, identical pixels), with the EXIF orientation applied, DCT-domain
//            downscaling (1/2, 1/4, 1/8) when the caller needs no more than a given size — the
//            largest single speed-up on big photos — and, for a window, only the rows and block
//            columns the window covers. CMYK/YCCK JPEGs go through OpenCV.
// A window (DecodeOptions::window) is a part of the upright image: the result holds just its
// pixels (other formats decode whole and cut).
//   GIF      giflib: the first frame on the GIF's screen (io/gif.hpp).
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
  int min_short_side = 0;               // > 0: JPEG may decode at 1/2, 1/4, 1/8 down to this
  cv::Rect window = {};                 // non-empty: decode only this part of the upright image
  cv::Size min_window_size = {};        // the window may shrink by 1/2..1/8 while this fits
  bool check_whole_file = true;         // false: a JPEG window stops decoding after its last row
                                        // (for bytes verified when they were stored)
};

struct DecodeResult {
  cv::Mat image;            // (H, W, channels) uint8, continuous; empty on failure
  std::string reason;       // empty on success: "truncated", "not an image", ...
  std::string detail;       // what exactly, for the user
  cv::Size full_size = {};  // the whole upright image at full scale
  int denominator = 1;      // the image (or window) was decoded at 1/denominator scale
  // Where the requested window lies in `image`, in its pixels: all of it at full scale; at
  // 1/d, image holds every scaled pixel the window touches, and this is the exact part.
  cv::Rect2d window_area = {};
  bool ok() const { return reason.empty(); }
};

DecodeResult decode_image(std::span<const std::uint8_t> bytes, const DecodeOptions& options);

// A JPEG's upright size (EXIF orientation applied) from its headers alone, so that a caller can
// choose a window before decoding; empty for other formats, CMYK, and headers that do not parse.
cv::Size jpeg_upright_size(std::span<const std::uint8_t> bytes);

// Reads a whole file; on failure returns false and sets `error`.
bool read_file(const std::string& path, std::vector<std::uint8_t>& bytes, std::string& error);

}  // namespace kiln::io
