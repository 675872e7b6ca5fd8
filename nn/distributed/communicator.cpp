#include "nn/distributed/communicator.hpp"

#include <algorithm>

namespace kiln::nn {

void Solo::all_to_all(const float* send, std::span<const int> send_counts,
                      std::span<const int> send_offsets, float* recv,
                      std::span<const int> /*recv_counts*/, std::span<const int> recv_offsets) {
  std::copy_n(send + send_offsets[0], send_counts[0], recv + recv_offsets[0]);
}

void Solo::all_gather(const float* mine, std::span<const int> counts, std::span<const int> offsets,
                      float* all) {
  std::copy_n(mine, counts[0], all + offsets[0]);
}

std::vector<std::vector<std::uint8_t>> Solo::all_gather_bytes(std::span<const std::uint8_t> mine) {
  return {std::vector<std::uint8_t>(mine.begin(), mine.end())};
}

}  // namespace kiln::nn
