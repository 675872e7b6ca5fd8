// The MPI job this kiln process is one rank of, when mpirun started it with several ranks. main()
// joins it before anything else runs; commands that work across ranks (train, evaluate,
// preprocess) take world(), every other command refuses to run under mpirun.
#pragma once

#include <span>
#include <string>

#include "nn/distributed/communicator.hpp"

namespace kiln::apps {

// Joins the job when the launcher started several ranks (MPI_Init); on every rank but 0 the
// standard output is then discarded, so progress and results are printed once. Throws
// kiln::Error when mpirun started this kiln but it was built without MPI.
void join_world(int* argc, char*** argv);
void leave_world();  // MPI_Finalize, after the command succeeded on this rank

nn::Communicator* world();  // null: one process
int world_rank();           // 0 without MPI
int world_size();           // 1 without MPI

// MPI_Allreduce's sum in place (no order promised), for `kiln bench reduce` only. Throws
// kiln::Error without MPI.
void unordered_sum(std::span<float> values);

// Throws kiln::Error when running on several ranks: `command` runs in one process only.
void require_one_process(const std::string& command);

// A command failed on this rank: prints `line` once for the job and ends every rank with `code`
// (MPI_Abort). Rank 0 prints at once; another rank waits a second first, so that an error every
// rank meets (a bad flag) is printed once, while one only it meets is still named. One process:
// prints and returns `code`.
int fail(int code, const std::string& line);

}  // namespace kiln::apps
