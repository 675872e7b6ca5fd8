// MpiWorld: the ranks of an MPI job (Debian's OpenMPI) as an nn::Communicator. kiln calls MPI from
// its main thread only (MPI_THREAD_FUNNELED); the flow graph's and the trainer's worker threads
// never do.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "nn/distributed/communicator.hpp"

namespace kiln::io {

class MpiWorld final : public nn::Communicator {
 public:
  // MPI_Init_thread. Throws kiln::Error when MPI cannot start.
  MpiWorld(int* argc, char*** argv);
  ~MpiWorld() override;  // MPI_Finalize
  MpiWorld(const MpiWorld&) = delete;
  MpiWorld& operator=(const MpiWorld&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void all_to_all(const float* send, std::span<const int> send_counts,
                  std::span<const int> send_offsets, float* recv, std::span<const int> recv_counts,
                  std::span<const int> recv_offsets) override;
  void all_gather(const float* mine, std::span<const int> counts, std::span<const int> offsets,
                  float* all) override;
  std::vector<std::vector<std::uint8_t>> all_gather_bytes(
      std::span<const std::uint8_t> mine) override;

  // Sums `values` over the ranks with MPI_Allreduce (no order promised): for the bandwidth
  // comparison of `kiln bench allreduce` only.
  void unordered_sum(std::span<float> values);
  // Ends every rank of the job (MPI_Abort) with `code`.
  [[noreturn]] void abort(int code);
  std::string processor_name() const;

 private:
  int rank_ = 0, size_ = 1;
};

}  // namespace kiln::io
