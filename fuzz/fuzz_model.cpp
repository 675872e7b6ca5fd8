// The model-file reader on a mutated kiln model file (seeded with a small valid one).
#include "fuzz/fuzz_input.hpp"
#include "io/model_file.hpp"
#include "nn/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  kiln::fuzz::InputFile file(kiln::fuzz::bytes_of(data, size), ".h5");
  try {
    kiln::io::load_model(file.path());
  } catch (const kiln::Error&) {
  }
  return 0;
}
