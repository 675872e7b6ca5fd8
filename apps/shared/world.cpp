#include "apps/shared/world.hpp"

#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include "io/runtime/launcher.hpp"
#include "nn/error.hpp"
#ifdef KILN_HAVE_MPI
#include "io/runtime/mpi_world.hpp"
#endif

namespace kiln::apps {
namespace {

#ifdef KILN_HAVE_MPI
std::unique_ptr<io::MpiWorld>& the_world() {
  static std::unique_ptr<io::MpiWorld> world;
  return world;
}
#endif

}  // namespace

void join_world([[maybe_unused]] int* argc, [[maybe_unused]] char*** argv) {
  const int launched = io::launcher_world_size();
  if (launched <= 1) return;
#ifdef KILN_HAVE_MPI
  the_world() = std::make_unique<io::MpiWorld>(argc, argv);
  if (the_world()->rank() != 0) std::freopen("/dev/null", "w", stdout);
#else
  throw Error("mpirun started " + std::to_string(launched) +
              " ranks, but this kiln was built without MPI; install libopenmpi-dev and rebuild "
              "(cmake -DKILN_WITH_MPI=ON), or run kiln without mpirun");
#endif
}

void leave_world() {
#ifdef KILN_HAVE_MPI
  the_world().reset();
#endif
}

nn::Communicator* world() {
#ifdef KILN_HAVE_MPI
  return the_world().get();
#else
  return nullptr;
#endif
}

int world_rank() { return world() != nullptr ? world()->rank() : 0; }
int world_size() { return world() != nullptr ? world()->size() : 1; }

void unordered_sum([[maybe_unused]] std::span<float> values) {
#ifdef KILN_HAVE_MPI
  if (the_world()) {
    the_world()->unordered_sum(values);
    return;
  }
#endif
  if (world_size() > 1) throw Error("MPI_Allreduce needs kiln built with MPI");
}

void require_one_process(const std::string& command) {
  if (world_size() > 1) {
    throw Error(command +
                " runs in one process; run it without mpirun (mpirun is for kiln train, "
                "kiln evaluate and kiln preprocess)");
  }
}

int fail(int code, const std::string& line) {
  if (world_size() == 1) {
    std::fprintf(stderr, "%s\n", line.c_str());
    return code;
  }
  const int rank = world_rank();
  if (rank == 0) {
    std::fprintf(stderr, "%s\n", line.c_str());
  } else {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    std::fprintf(stderr, "%s (rank %d of %d)\n", line.c_str(), rank, world_size());
  }
  std::fflush(stderr);
#ifdef KILN_HAVE_MPI
  the_world()->abort(code);
#endif
  return code;
}

}  // namespace kiln::apps
