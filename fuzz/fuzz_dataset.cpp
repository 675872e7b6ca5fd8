// The dataset reader on a mutated kiln HDF5 file (seeded with small valid ones): open, then read
// every image (at most 256).
#include <algorithm>
#include <vector>

#include "fuzz/fuzz_input.hpp"
#include "io/dataset_reader.hpp"
#include "nn/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  kiln::fuzz::InputFile file(kiln::fuzz::bytes_of(data, size), ".h5");
  try {
    kiln::io::DatasetReader reader(file.path());
    for (std::int64_t i = 0; i < std::min<std::int64_t>(reader.size(), 256); ++i) {
      reader.read_stored(i);
      if (!reader.ragged()) reader.read_mat(i);
    }
  } catch (const kiln::Error&) {
  }
  return 0;
}
