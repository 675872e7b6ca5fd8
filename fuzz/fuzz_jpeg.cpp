// The JPEG header reader and the window decoder (libjpeg-turbo) on arbitrary bytes: the header,
// a whole decode at 1/2 scale, and a window of the image.
#include "fuzz/fuzz_input.hpp"
#include "io/jpeg.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto bytes = kiln::fuzz::bytes_of(data, size);
  kiln::io::JpegInfo info;
  std::string error;
  if (!kiln::io::read_jpeg_info(bytes, info, error)) return 0;
  if (static_cast<std::int64_t>(info.width) * info.height > (1 << 22)) return 0;  // 4 Mpx cap
  cv::Mat out;
  kiln::io::decode_jpeg(bytes, {.denominator = 2}, out, error);
  const cv::Rect window(info.width / 4, info.height / 4, info.width / 2 + 1, info.height / 2 + 1);
  kiln::io::decode_jpeg(bytes, {.window = window, .channels = 1, .whole_stream = false}, out,
                        error);
  return 0;
}
