// Communicator: the ranks a data-parallel job runs on, and the three collective operations its
// deterministic reduction needs. nn defines it; io/runtime/mpi_world.cpp implements it over MPI; a process
// on its own is Solo. Every operation is collective: every rank calls it, in the same order.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace kiln::nn {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  // Personalised exchange: this rank's send[send_offsets[s] .. + send_counts[s]) goes to rank s
  // and arrives there at recv[recv_offsets[rank()] .. + recv_counts[rank()]).
  virtual void all_to_all(const float* send, std::span<const int> send_counts,
                          std::span<const int> send_offsets, float* recv,
                          std::span<const int> recv_counts, std::span<const int> recv_offsets) = 0;

  // Every rank's `mine` (counts[rank()] values) is placed at all[offsets[r]] on every rank.
  virtual void all_gather(const float* mine, std::span<const int> counts,
                          std::span<const int> offsets, float* all) = 0;

  // Small records of any size: result[r] is rank r's `mine`, on every rank.
  virtual std::vector<std::vector<std::uint8_t>> all_gather_bytes(
      std::span<const std::uint8_t> mine) = 0;
};

// One process: rank 0 of 1; the operations copy.
class Solo final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void all_to_all(const float* send, std::span<const int> send_counts,
                  std::span<const int> send_offsets, float* recv, std::span<const int> recv_counts,
                  std::span<const int> recv_offsets) override;
  void all_gather(const float* mine, std::span<const int> counts, std::span<const int> offsets,
                  float* all) override;
  std::vector<std::vector<std::uint8_t>> all_gather_bytes(
      std::span<const std::uint8_t> mine) override;
};

}  // namespace kiln::nn
