// bench_reduction: `mpirun -np N kiln bench reduce`. Times kiln's ordered gradient reduction
// (nn/distributed/gradient_fold.hpp: all-to-all reduce-scatter folded in rank order, then all-gather) against
// the MPI library's own MPI_Allreduce on the same buffer, side by side in one job.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "nn/distributed/communicator.hpp"

namespace kiln::pipeline {

struct ReductionBenchResult {
  std::int64_t floats = 0;
  int ranks = 1;
  std::vector<double> ordered_seconds, allreduce_seconds;  // per repeat, this rank's
  // Largest |ordered − MPI_Allreduce| over the buffer: rounding only (no order is promised).
  double largest_difference = 0.0;
  bool ordered_exact = true;  // the ordered result equals the rank-order sum, computed here
};

// `unordered_sum` sums a buffer over the ranks in place (MPI_Allreduce). Collective.
ReductionBenchResult bench_reduction(nn::Communicator& ranks,
                                     const std::function<void(std::span<float>)>& unordered_sum,
                                     std::int64_t floats, int repeats);

}  // namespace kiln::pipeline
