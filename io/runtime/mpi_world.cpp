#include "io/runtime/mpi_world.hpp"

#include <mpi.h>

#include <cstdlib>

#include "nn/error.hpp"

namespace kiln::io {
namespace {

void check(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw Error(std::string("MPI: ") + what + " failed: " + std::string(text, length));
}

}  // namespace

MpiWorld::MpiWorld(int* argc, char*** argv) {
  int provided = 0;
  check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  if (provided < MPI_THREAD_FUNNELED) {
    throw Error("MPI: this MPI library does not support threads (MPI_THREAD_FUNNELED)");
  }
  // Errors come back as codes, which check() turns into kiln::Error and main into MPI_Abort: one
  // message naming the rank, not an MPI library's own abort text on every rank.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

MpiWorld::~MpiWorld() { MPI_Finalize(); }

void MpiWorld::all_to_all(const float* send, std::span<const int> send_counts,
                          std::span<const int> send_offsets, float* recv,
                          std::span<const int> recv_counts, std::span<const int> recv_offsets) {
  check(MPI_Alltoallv(send, send_counts.data(), send_offsets.data(), MPI_FLOAT, recv,
                      recv_counts.data(), recv_offsets.data(), MPI_FLOAT, MPI_COMM_WORLD),
        "MPI_Alltoallv");
}

void MpiWorld::all_gather(const float* mine, std::span<const int> counts,
                          std::span<const int> offsets, float* all) {
  check(MPI_Allgatherv(mine, counts[static_cast<std::size_t>(rank_)], MPI_FLOAT, all, counts.data(),
                       offsets.data(), MPI_FLOAT, MPI_COMM_WORLD),
        "MPI_Allgatherv");
}

std::vector<std::vector<std::uint8_t>> MpiWorld::all_gather_bytes(
    std::span<const std::uint8_t> mine) {
  const int length = static_cast<int>(mine.size());
  std::vector<int> lengths(static_cast<std::size_t>(size_));
  check(MPI_Allgather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, MPI_COMM_WORLD),
        "MPI_Allgather");
  std::vector<int> offsets(lengths.size());
  int total = 0;
  for (std::size_t r = 0; r < lengths.size(); ++r) {
    offsets[r] = total;
    total += lengths[r];
  }
  std::vector<std::uint8_t> all(static_cast<std::size_t>(total));
  check(MPI_Allgatherv(mine.data(), length, MPI_BYTE, all.data(), lengths.data(), offsets.data(),
                       MPI_BYTE, MPI_COMM_WORLD),
        "MPI_Allgatherv");
  std::vector<std::vector<std::uint8_t>> out;
  for (std::size_t r = 0; r < lengths.size(); ++r) {
    out.emplace_back(all.begin() + offsets[r], all.begin() + offsets[r] + lengths[r]);
  }
  return out;
}

void MpiWorld::unordered_sum(std::span<float> values) {
  check(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_FLOAT,
                      MPI_SUM, MPI_COMM_WORLD),
        "MPI_Allreduce");
}

void MpiWorld::abort(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

std::string MpiWorld::processor_name() const {
  char name[MPI_MAX_PROCESSOR_NAME];
  int length = 0;
  MPI_Get_processor_name(name, &length);
  return {name, static_cast<std::size_t>(length)};
}

}  // namespace kiln::io
