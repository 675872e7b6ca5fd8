// The CIFAR-10 and CIFAR-100 binary batch readers on arbitrary bytes.
#include "fuzz/fuzz_input.hpp"
#include "io/cifar_reader.hpp"
#include "nn/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  kiln::fuzz::InputFile file(kiln::fuzz::bytes_of(data, size), ".bin");
  for (const auto kind : {kiln::io::CifarKind::kCifar10, kiln::io::CifarKind::kCifar100Fine}) {
    try {
      kiln::io::read_cifar({file.path()}, kind);
    } catch (const kiln::Error&) {
    }
  }
  return 0;
}
