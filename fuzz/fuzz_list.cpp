// The list (.txt) and CSV parsers of kiln preprocess on arbitrary text; the first byte picks
// which.
#include "fuzz/fuzz_input.hpp"
#include "io/image_index.hpp"
#include "nn/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  kiln::fuzz::InputFile file(kiln::fuzz::bytes_of(data + 1, size - 1),
                             data[0] % 2 ? ".csv" : ".txt");
  try {
    kiln::io::index_list_file(file.path());
  } catch (const kiln::Error&) {
  }
  return 0;
}
