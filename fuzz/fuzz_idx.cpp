// The IDX reader (plain and gzip, detected by content) on arbitrary bytes.
#include <vector>

#include "fuzz/fuzz_input.hpp"
#include "io/idx_reader.hpp"
#include "nn/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  kiln::fuzz::InputFile file(kiln::fuzz::bytes_of(data, size), ".idx");
  try {
    kiln::io::IdxReader reader(file.path());
    // At most 1 MiB of items: a header may promise billions.
    const std::uint64_t item = reader.item_bytes();
    const std::uint64_t items =
        std::min<std::uint64_t>(reader.count(), item ? (1u << 20) / item : 0);
    std::vector<std::uint8_t> out(static_cast<std::size_t>(items * item));
    reader.read(out);
    if (items == reader.count()) reader.expect_end();
  } catch (const kiln::Error&) {
  }
  try {
    kiln::io::read_idx_labels(file.path());
  } catch (const kiln::Error&) {
  }
  return 0;
}
