#include "io/jpeg.hpp"

#include <algorithm>
#include <csetjmp>
#include <cstdlib>
// jpeglib.h needs size_t and FILE declared before it.
// clang-format off
#include <cstdio>
#include <jpeglib.h>
// clang-format on

namespace kiln::io {
namespace {

// libjpeg reports errors through a callback that must not return; the documented way out is a
// longjmp back to the caller (example.txt in libjpeg). Every function below that calls setjmp
// keeps only trivially destructible locals, so the jump skips no destructor.
struct ErrorManager {
  jpeg_error_mgr base;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void jump_on_error(j_common_ptr cinfo) {
  auto* manager = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, manager->message);
  std::longjmp(manager->jump, 1);
}

// Level -1 is a warning: corrupt or missing data that libjpeg would paper over.
void jump_on_warning(j_common_ptr cinfo, int level) {
  if (level < 0) jump_on_error(cinfo);
}

// The decompressor lives in the caller's frame; this only wires the error handling. False, with
// the message set, for empty input: jpeg_mem_src would raise that error before the caller's
// setjmp exists, and the jump would land nowhere (found by fuzzing).
bool start(jpeg_decompress_struct& cinfo, ErrorManager& errors, std::span<const std::uint8_t> b,
           char* message) {
  if (b.empty()) {
    std::snprintf(message, JMSG_LENGTH_MAX, "empty JPEG data");
    return false;
  }
  cinfo.err = jpeg_std_error(&errors.base);
  errors.base.error_exit = jump_on_error;
  errors.base.emit_message = jump_on_warning;
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, b.data(), static_cast<unsigned long>(b.size()));
  return true;
}

// Where the rows of one decode land: `rows` rows of the window, each `stride` bytes apart.
struct Target {
  std::uint8_t* pixels;
  std::size_t stride;
  JDIMENSION first_column, columns;  // scaled image columns wanted
  JDIMENSION first_row, rows;        // scaled image rows wanted
  JDIMENSION expect_width, expect_height;
  std::uint8_t* spare_row;  // one row of the scaled image, for rows decoded only to check them
};

// Decodes the target's rows; on return `left` is how many columns the decoded rows start before
// first_column (jpeg_crop_scanline widens the crop to whole blocks).
bool decode_rows(std::span<const std::uint8_t> bytes, const JpegRequest& request,
                 const Target& target, JDIMENSION& left, char* message) {
  jpeg_decompress_struct cinfo;
  ErrorManager errors;
  if (!start(cinfo, errors, bytes, message)) return false;
  if (setjmp(errors.jump) != 0) {
    std::snprintf(message, JMSG_LENGTH_MAX, "%s", errors.message);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = request.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  cinfo.scale_num = 1;
  cinfo.scale_denom = static_cast<unsigned>(request.denominator);
  jpeg_start_decompress(&cinfo);
  if (cinfo.output_width != target.expect_width || cinfo.output_height != target.expect_height) {
    std::snprintf(message, JMSG_LENGTH_MAX, "libjpeg scaled the image to %ux%u, not %ux%u",
                  cinfo.output_width, cinfo.output_height, target.expect_width,
                  target.expect_height);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  // One block column of margin each side: the crop widens to whole blocks, but the chroma
  // upsampling at its edges has no neighbour, and a crop of a single block column upsamples
  // differently, so window columns near a crop edge would differ from a whole-image decode
  // (measured: they do with a margin of one pixel).
  const JDIMENSION block_columns = static_cast<JDIMENSION>(cinfo.max_h_samp_factor) *
                                   static_cast<JDIMENSION>(cinfo.min_DCT_scaled_size);
  const JDIMENSION from =
      target.first_column > block_columns ? target.first_column - block_columns : 0;
  const JDIMENSION to =
      std::min(target.first_column + target.columns + block_columns, cinfo.output_width);
  JDIMENSION x = from, width = to - from;
  if (width < cinfo.output_width) jpeg_crop_scanline(&cinfo, &x, &width);
  left = target.first_column - x;
  // Skip whole rows of blocks only: a skip that ends inside one leaves the chroma upsampling of
  // the next rows without its context (measured: those rows differ from a whole decode). The
  // rest of the way is decoded into the spare row.
  const JDIMENSION block_rows = static_cast<JDIMENSION>(cinfo.max_v_samp_factor) *
                                static_cast<JDIMENSION>(cinfo.min_DCT_scaled_size);
  const JDIMENSION skip = target.first_row / block_rows * block_rows;
  if (skip > 0) jpeg_skip_scanlines(&cinfo, skip);
  while (cinfo.output_scanline < target.first_row) {
    JSAMPROW row = target.spare_row;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  for (JDIMENSION r = 0; r < target.rows; ++r) {
    JSAMPROW row = target.pixels + r * target.stride;
    if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) {
      std::snprintf(message, JMSG_LENGTH_MAX, "libjpeg returned no row %u", target.first_row + r);
      jpeg_destroy_decompress(&cinfo);
      return false;
    }
  }
  if (request.whole_stream && cinfo.output_scanline < cinfo.output_height) {
    // Skipping entropy-decodes the rows, which finds damage; but a skip that reaches the last
    // row returns without reading anything, so the last row is decoded.
    const JDIMENSION left_over = cinfo.output_height - cinfo.output_scanline;
    if (left_over > 1) jpeg_skip_scanlines(&cinfo, left_over - 1);
    JSAMPROW row = target.spare_row;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  if (request.whole_stream) {
    jpeg_finish_decompress(&cinfo);
  } else {
    jpeg_abort_decompress(&cinfo);
  }
  jpeg_destroy_decompress(&cinfo);
  return true;
}

bool read_header(std::span<const std::uint8_t> bytes, JpegInfo& info, char* message) {
  jpeg_decompress_struct cinfo;
  ErrorManager errors;
  if (!start(cinfo, errors, bytes, message)) return false;
  if (setjmp(errors.jump) != 0) {
    std::snprintf(message, JMSG_LENGTH_MAX, "%s", errors.message);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_read_header(&cinfo, TRUE);
  info.width = static_cast<int>(cinfo.image_width);
  info.height = static_cast<int>(cinfo.image_height);
  info.cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  jpeg_destroy_decompress(&cinfo);
  return true;
}

// Compresses into a buffer libjpeg allocates (jpeg_mem_dest); the caller frees it, also on failure.
bool compress(const cv::Mat& image, int quality, unsigned char*& buffer, unsigned long& size,
              char* message) {
  jpeg_compress_struct cinfo;
  ErrorManager errors;
  cinfo.err = jpeg_std_error(&errors.base);
  errors.base.error_exit = jump_on_error;
  jpeg_create_compress(&cinfo);
  if (setjmp(errors.jump) != 0) {
    std::snprintf(message, JMSG_LENGTH_MAX, "%s", errors.message);
    jpeg_destroy_compress(&cinfo);
    return false;
  }
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = static_cast<JDIMENSION>(image.cols);
  cinfo.image_height = static_cast<JDIMENSION>(image.rows);
  cinfo.input_components = image.channels();
  cinfo.in_color_space = image.channels() == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);  // 4:2:0, JFIF header, integer DCT: what OpenCV asks for too
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row =
        const_cast<std::uint8_t*>(image.ptr<std::uint8_t>(static_cast<int>(cinfo.next_scanline)));
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return true;
}

}  // namespace

bool encode_jpeg(const cv::Mat& image, int quality, std::vector<std::uint8_t>& out,
                 std::string& error) {
  if (image.depth() != CV_8U || (image.channels() != 1 && image.channels() != 3) || image.empty() ||
      quality < 1 || quality > 100) {
    error = "JPEG encoding takes a non-empty 8-bit grey or RGB image and a quality in [1, 100]";
    return false;
  }
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  char message[JMSG_LENGTH_MAX] = {};
  const bool ok = compress(image, quality, buffer, size, message);
  if (ok) {
    out.assign(buffer, buffer + size);
  } else {
    error = message;
  }
  std::free(buffer);
  return ok;
}

bool read_jpeg_info(std::span<const std::uint8_t> bytes, JpegInfo& info, std::string& error) {
  char message[JMSG_LENGTH_MAX] = {};
  if (!read_header(bytes, info, message)) {
    error = message;
    return false;
  }
  return true;
}

bool decode_jpeg(std::span<const std::uint8_t> bytes, const JpegRequest& request, cv::Mat& out,
                 std::string& error) {
  JpegInfo info;
  if (!read_jpeg_info(bytes, info, error)) return false;
  const int d = request.denominator;
  if (d != 1 && d != 2 && d != 4 && d != 8) {
    error = "JPEG scale 1/" + std::to_string(d) + " (kiln decodes at 1/1, 1/2, 1/4 or 1/8)";
    return false;
  }
  const int width = scaled_side(info.width, d), height = scaled_side(info.height, d);
  const cv::Rect whole(0, 0, info.width, info.height);
  const cv::Rect window = request.window.empty() ? whole : request.window & whole;
  if (window != request.window && !request.window.empty()) {
    error = "the window lies outside the " + std::to_string(info.width) + "x" +
            std::to_string(info.height) + " image";
    return false;
  }
  // The window in scaled pixels: every scaled pixel that any window pixel falls into.
  const int x0 = window.x / d, x1 = std::min(width, scaled_side(window.x + window.width, d));
  const int y0 = window.y / d, y1 = std::min(height, scaled_side(window.y + window.height, d));
  const int channels = request.channels == 1 ? 1 : 3;
  // Rows as wide as the scaled image: the block-aligned crop may start left of x0.
  cv::Mat rows(y1 - y0 + 1, width, CV_8UC(channels));  // + the spare row
  const Target target{rows.data,
                      rows.step[0],
                      static_cast<JDIMENSION>(x0),
                      static_cast<JDIMENSION>(x1 - x0),
                      static_cast<JDIMENSION>(y0),
                      static_cast<JDIMENSION>(y1 - y0),
                      static_cast<JDIMENSION>(width),
                      static_cast<JDIMENSION>(height),
                      rows.ptr(y1 - y0)};
  JDIMENSION left = 0;
  char message[JMSG_LENGTH_MAX] = {};
  if (!decode_rows(bytes, request, target, left, message)) {
    error = message;
    return false;
  }
  out = rows(cv::Rect(static_cast<int>(left), 0, x1 - x0, y1 - y0));
  return true;
}

}  // namespace kiln::io
