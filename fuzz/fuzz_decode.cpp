// decode_image, the path every image takes into a dataset: JPEG through libjpeg-turbo (with
// EXIF orientation), PNG, BMP and the rest through OpenCV's codecs, with the pixel-count guard.
#include "fuzz/fuzz_input.hpp"
#include "io/decode.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  kiln::io::DecodeOptions options;
  options.max_pixels = 1 << 22;
  for (const int channels : {1, 3}) {
    options.channels = channels;
    kiln::io::decode_image(kiln::fuzz::bytes_of(data, size), options);
  }
  return 0;
}
