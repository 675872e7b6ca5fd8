#include "io/decode.hpp"

#include <cstring>
#include <fstream>
#include <memory>
#include <opencv2/imgcodecs.hpp>  // the IMREAD_ flags only
#include <opencv2/imgproc.hpp>

#include "io/gif.hpp"
#include "io/jpeg.hpp"
#include "io/opencv_codecs.hpp"

namespace kiln::io {
namespace {

enum class Format { kJpeg, kPng, kGif, kBmp, kTiff, kWebp, kPnm, kUnknown };

Format sniff(std::span<const std::uint8_t> b) {
  auto starts = [&](std::initializer_list<std::uint8_t> magic) {
    return b.size() >= magic.size() && std::equal(magic.begin(), magic.end(), b.begin());
  };
  if (starts({0xFF, 0xD8, 0xFF})) return Format::kJpeg;
  if (starts({0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'})) return Format::kPng;
  if (starts({'G', 'I', 'F', '8'})) return Format::kGif;
  if (starts({'B', 'M'})) return Format::kBmp;
  if (starts({'I', 'I', 42, 0}) || starts({'M', 'M', 0, 42})) return Format::kTiff;
  if (b.size() >= 12 && starts({'R', 'I', 'F', 'F'}) && std::memcmp(b.data() + 8, "WEBP", 4) == 0)
    return Format::kWebp;
  if (b.size() >= 2 && b[0] == 'P' && b[1] >= '1' && b[1] <= '6') return Format::kPnm;
  return Format::kUnknown;
}

DecodeResult failure(std::string reason, std::string detail) {
  return {cv::Mat(), std::move(reason), std::move(detail), {}, 1};
}

DecodeResult too_many_pixels(std::int64_t w, std::int64_t h, std::int64_t max) {
  return failure("too many pixels", std::to_string(w) + "x" + std::to_string(h) +
                                        " is more than --max-pixels " + std::to_string(max) +
                                        " (a decompression bomb?)");
}

// EXIF orientation (1..8) from a JPEG's APP1 segment; 1 when absent or unreadable.
int exif_orientation(std::span<const std::uint8_t> b) {
  std::size_t pos = 2;
  while (pos + 4 <= b.size() && b[pos] == 0xFF) {
    const std::uint8_t marker = b[pos + 1];
    const std::size_t length = (std::size_t{b[pos + 2]} << 8) | b[pos + 3];
    if (marker == 0xDA || length < 2) break;  // start of scan: no more metadata
    const std::size_t body = pos + 4, end = pos + 2 + length;
    if (end > b.size()) break;
    if (marker == 0xE1 && length >= 16 && std::memcmp(b.data() + body, "Exif\0\0", 6) == 0) {
      const std::size_t tiff = body + 6;
      const bool little = b[tiff] == 'I';
      auto u16 = [&](std::size_t at) -> unsigned {
        if (at + 2 > end) return 0;
        return little ? b[at] | (b[at + 1] << 8) : (b[at] << 8) | b[at + 1];
      };
      auto u32 = [&](std::size_t at) -> std::size_t {
        if (at + 4 > end) return 0;
        return little
                   ? b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (std::size_t{b[at + 3]} << 24)
                   : (std::size_t{b[at]} << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3];
      };
      const std::size_t ifd = tiff + u32(tiff + 4);
      const unsigned entries = u16(ifd);
      for (unsigned e = 0; e < entries; ++e) {
        const std::size_t entry = ifd + 2 + 12 * e;
        if (entry + 12 > end) break;
        if (u16(entry) == 0x0112) {  // Orientation, SHORT
          const unsigned value = u16(entry + 8);
          return value >= 1 && value <= 8 ? static_cast<int>(value) : 1;
        }
      }
      return 1;
    }
    pos = end;
  }
  return 1;
}

// Turns the stored orientation into the upright image (EXIF 2.3, tag 0x0112).
void apply_orientation(cv::Mat& image, int orientation) {
  cv::Mat out;
  switch (orientation) {
    case 2:
      cv::flip(image, out, 1);
      break;
    case 3:
      cv::rotate(image, out, cv::ROTATE_180);
      break;
    case 4:
      cv::flip(image, out, 0);
      break;
    case 5:
      cv::transpose(image, out);
      break;
    case 6:
      cv::rotate(image, out, cv::ROTATE_90_CLOCKWISE);
      break;
    case 7:
      cv::transpose(image, out);
      cv::flip(out, out, -1);
      break;
    case 8:
      cv::rotate(image, out, cv::ROTATE_90_COUNTERCLOCKWISE);
      break;
    default:
      return;
  }
  image = out;
}

DecodeResult decode_with_opencv(std::span<const std::uint8_t> bytes, const DecodeOptions& o,
                                bool jpeg);
DecodeResult cut_window(cv::Mat out, const DecodeOptions& o);

// A JPEG that fails to decode is "truncated" when it lacks the end-of-image marker (FF D9) that
// every complete JPEG ends with, "corrupt" otherwise.
DecodeResult jpeg_failure(std::span<const std::uint8_t> bytes, std::string detail) {
  const bool complete =
      bytes.size() >= 4 && bytes[bytes.size() - 2] == 0xFF && bytes[bytes.size() - 1] == 0xD9;
  return failure(complete ? "corrupt" : "truncated", std::move(detail));
}

// The largest DCT scaling denominator (1, 2, 4, 8) that keeps `size` at least `at_least`.
int scale_denominator(cv::Size size, cv::Size at_least) {
  int chosen = 1;
  for (int d = 2; d <= 8 && at_least.area() > 0; d *= 2) {
    if (scaled_side(size.width, d) < at_least.width ||
        scaled_side(size.height, d) < at_least.height)
      break;
    chosen = d;
  }
  return chosen;
}

// `window` of an upright image (whole image: all of it) in the pixels of the same image scaled
// by 1/d, as io/jpeg.hpp rounds it.
cv::Rect scaled_window(cv::Rect window, cv::Size scaled, int d) {
  const int x0 = window.x / d, y0 = window.y / d;
  const int x1 = std::min(scaled.width, scaled_side(window.x + window.width, d));
  const int y1 = std::min(scaled.height, scaled_side(window.y + window.height, d));
  return {x0, y0, x1 - x0, y1 - y0};
}

DecodeResult decode_jpeg_image(std::span<const std::uint8_t> bytes, const DecodeOptions& o) {
  JpegInfo info;
  std::string error;
  if (!read_jpeg_info(bytes, info, error)) return jpeg_failure(bytes, "JPEG header: " + error);
  if (info.width <= 0 || info.height <= 0)
    return jpeg_failure(bytes, "JPEG header declares no image size");
  if (static_cast<std::int64_t>(info.width) * info.height > o.max_pixels)
    return too_many_pixels(info.width, info.height, o.max_pixels);
  if (info.cmyk) return decode_with_opencv(bytes, o, true);

  const int orientation = exif_orientation(bytes);
  const bool turned = orientation >= 5;  // 5..8 swap width and height
  const cv::Size upright =
      turned ? cv::Size(info.height, info.width) : cv::Size(info.width, info.height);
  const cv::Rect whole({0, 0}, upright);
  if (!o.window.empty() && (o.window & whole) != o.window) {
    return failure("corrupt", "the requested window lies outside the " +
                                  std::to_string(upright.width) + "x" +
                                  std::to_string(upright.height) + " image");
  }
  const cv::Rect window = o.window.empty() ? whole : o.window;
  const int d = o.window.empty() ? scale_denominator(upright, {o.min_short_side, o.min_short_side})
                                 : scale_denominator(window.size(), o.min_window_size);
  JpegRequest request;
  request.denominator = d;
  request.channels = o.channels == 1 ? 1 : 3;
  request.whole_stream = o.check_whole_file;
  // Only an image stored upright can be cut while decoding; the others are decoded whole,
  // turned, then cut.
  if (orientation == 1) request.window = o.window;
  cv::Mat image;
  if (!decode_jpeg(bytes, request, image, error)) return jpeg_failure(bytes, "JPEG: " + error);
  if (orientation != 1) {
    apply_orientation(image, orientation);
    if (!o.window.empty()) image = image(scaled_window(window, image.size(), d));
  }
  DecodeResult result{image, {}, {}, upright, d};
  result.window_area = {0, 0, static_cast<double>(image.cols), static_cast<double>(image.rows)};
  if (!o.window.empty() && d > 1) {
    const double scale = 1.0 / d;
    result.window_area = {window.x * scale - window.x / d, window.y * scale - window.y / d,
                          window.width * scale, window.height * scale};
  }
  return result;
}

DecodeResult decode_with_opencv(std::span<const std::uint8_t> bytes, const DecodeOptions& o,
                                bool jpeg) {
  // JPEG (CMYK) needs IMREAD_COLOR for OpenCV to apply EXIF orientation; the rest keep their depth.
  std::string error;
  cv::Mat decoded = opencv_decode(bytes, jpeg ? cv::IMREAD_COLOR : cv::IMREAD_UNCHANGED, error);
  if (!error.empty()) return failure("corrupt", "OpenCV: " + error);
  if (decoded.empty())
    return failure("corrupt", "OpenCV could not decode it (damaged or truncated?)");
  if (static_cast<std::int64_t>(decoded.cols) * decoded.rows > o.max_pixels) {
    return too_many_pixels(decoded.cols, decoded.rows, o.max_pixels);
  }
  if (decoded.depth() == CV_16U) decoded.convertTo(decoded, CV_8U, 1.0 / 257.0);
  if (decoded.depth() != CV_8U) {
    return failure("unsupported format",
                   "pixel depth " + std::to_string(decoded.depth()) + " (kiln reads 8 and 16 bit)");
  }
  cv::Mat out;
  const int c = decoded.channels();
  if (o.channels == 1) {
    if (c == 1) out = decoded;
    if (c == 3) cv::cvtColor(decoded, out, cv::COLOR_BGR2GRAY);
    if (c == 4) cv::cvtColor(decoded, out, cv::COLOR_BGRA2GRAY);
  } else {
    if (c == 1) cv::cvtColor(decoded, out, cv::COLOR_GRAY2RGB);
    if (c == 3) cv::cvtColor(decoded, out, cv::COLOR_BGR2RGB);
    if (c == 4) cv::cvtColor(decoded, out, cv::COLOR_BGRA2RGB);
  }
  if (out.empty()) return failure("unsupported format", std::to_string(c) + " channels");
  return cut_window(std::move(out), o);
}

DecodeResult decode_gif_image(std::span<const std::uint8_t> bytes, const DecodeOptions& o) {
  GifFrame frame = decode_gif(bytes, o.max_pixels);
  if (!frame.reason.empty()) return failure(frame.reason, frame.detail);
  cv::Mat out = frame.rgb;
  if (o.channels == 1) cv::cvtColor(frame.rgb, out, cv::COLOR_RGB2GRAY);
  return cut_window(std::move(out), o);
}

// A whole decoded image as the result, cut to the requested window (if any).
DecodeResult cut_window(cv::Mat out, const DecodeOptions& o) {
  if (!out.isContinuous()) out = out.clone();
  DecodeResult result{out, {}, {}, out.size(), 1};
  if (!o.window.empty()) {
    if ((o.window & cv::Rect({0, 0}, out.size())) != o.window) {
      return failure("corrupt", "the requested window lies outside the " +
                                    std::to_string(out.cols) + "x" + std::to_string(out.rows) +
                                    " image");
    }
    result.image = out(o.window);
  }
  result.window_area = {0, 0, static_cast<double>(result.image.cols),
                        static_cast<double>(result.image.rows)};
  return result;
}

// PNG's IHDR holds the size at bytes 16..23: checked before anything is inflated.
bool png_too_large(std::span<const std::uint8_t> b, std::int64_t max_pixels, std::int64_t& w,
                   std::int64_t& h) {
  if (b.size() < 24) return false;
  auto be32 = [&](std::size_t at) {
    return (std::int64_t{b[at]} << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3];
  };
  w = be32(16);
  h = be32(20);
  return w != 0 && h > max_pixels / w;  // w · h > max_pixels without overflowing (2^32 each)
}

// BMP's info header holds the size as little-endian int32 at bytes 18..25 (a negative height:
// top-down rows). A 53-byte file can claim billions of pixels, which OpenCV would allocate (found
// by fuzzing).
bool bmp_too_large(std::span<const std::uint8_t> b, std::int64_t max_pixels, std::int64_t& w,
                   std::int64_t& h) {
  if (b.size() < 26) return false;
  auto le32 = [&](std::size_t at) {
    const std::uint32_t u = b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) |
                            (static_cast<std::uint32_t>(b[at + 3]) << 24);
    return static_cast<std::int64_t>(static_cast<std::int32_t>(u));
  };
  w = std::abs(le32(18));
  h = std::abs(le32(22));
  return w != 0 && h > max_pixels / w;
}

}  // namespace

// OpenCV picks its decoder by its own signature checks; bytes its WebP, TIFF or PNM decoder
// turns down go on to GDAL and GDCM, and GDCM aborts the process on a damaged DICOM file (found
// by fuzz_decode). kiln reads no DICOM, so a DICOM preamble is refused before OpenCV sees it.
bool has_dicom_preamble(std::span<const std::uint8_t> b) {
  return b.size() >= 132 && std::memcmp(b.data() + 128, "DICM", 4) == 0;
}

DecodeResult decode_image(std::span<const std::uint8_t> bytes, const DecodeOptions& o) {
  if (bytes.empty()) return failure("empty file", "0 bytes");
  if (has_dicom_preamble(bytes) && sniff(bytes) != Format::kJpeg) {
    return failure("unsupported format", "DICOM: kiln does not read DICOM; export it as PNG");
  }
  switch (sniff(bytes)) {
    case Format::kJpeg:
      return decode_jpeg_image(bytes, o);
    case Format::kGif:
      return decode_gif_image(bytes, o);
    case Format::kPng: {
      std::int64_t w = 0, h = 0;
      if (png_too_large(bytes, o.max_pixels, w, h)) return too_many_pixels(w, h, o.max_pixels);
      return decode_with_opencv(bytes, o, false);
    }
    case Format::kBmp: {
      std::int64_t w = 0, h = 0;
      if (bmp_too_large(bytes, o.max_pixels, w, h)) return too_many_pixels(w, h, o.max_pixels);
      return decode_with_opencv(bytes, o, false);
    }
    case Format::kTiff:
    case Format::kWebp:
    case Format::kPnm:
      return decode_with_opencv(bytes, o, false);
    case Format::kUnknown:
      break;
  }
  return failure("not an image", "the content is not JPEG, PNG, BMP, TIFF, WebP or PNM");
}

cv::Size jpeg_upright_size(std::span<const std::uint8_t> bytes) {
  JpegInfo info;
  std::string error;
  if (sniff(bytes) != Format::kJpeg || !read_jpeg_info(bytes, info, error) || info.cmyk) return {};
  return exif_orientation(bytes) >= 5 ? cv::Size(info.height, info.width)
                                      : cv::Size(info.width, info.height);
}

bool read_file(const std::string& path, std::vector<std::uint8_t>& bytes, std::string& error) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    error = "cannot open the file";
    return false;
  }
  const std::streamsize size = in.tellg();
  if (size < 0) {
    error = "cannot read the file size";
    return false;
  }
  bytes.resize(static_cast<std::size_t>(size));
  in.seekg(0);
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size)) {
    error = "read failed";
    return false;
  }
  return true;
}

}  // namespace kiln::io
