// CIFAR-10 and CIFAR-100 binary batches (Krizhevsky 2009, the "binary version" files).
//   CIFAR-10:  records of 1 label byte + 3072 pixel bytes
//   CIFAR-100: records of 1 coarse label byte + 1 fine label byte + 3072 pixel bytes
// Pixels are three 32x32 planes, R then G then B; read_cifar returns them as (N, 32, 32, 3) RGB.
// Class names come from the batches.meta.txt / fine_label_names.txt / coarse_label_names.txt
// file beside the batches when there is one, else the standard CIFAR-10 names or "0".."99".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::io {

enum class CifarKind { kCifar10, kCifar100Fine, kCifar100Coarse };

struct CifarData {
  std::vector<std::uint8_t> images;  // (N, 32, 32, 3) RGB
  std::vector<std::int32_t> labels;
  std::vector<std::string> class_names;
};

// Reads and concatenates the given batch files. Throws kiln::Error naming the file whose length
// is not a whole number of records, or whose labels are out of range.
CifarData read_cifar(const std::vector<std::string>& paths, CifarKind kind);

}  // namespace kiln::io
