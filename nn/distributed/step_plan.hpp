// StepPlan: how an epoch's samples become optimizer steps and micro-batches, and which rank
// computes which micro-batch. It is what makes a result depend on the config alone, not on the
// number of ranks or threads:
//   step s covers epoch-order positions [s·B, min((s+1)·B, n))  (B = batch_size; the last step
//   is short unless drop_last drops it);
//   its micro-batch i covers the i-th run of m = micro_batch_size positions of the step;
//   rank r computes the micro-batches i ≡ r (mod ranks): in round j, micro-batch j·ranks + r.
// Gradients are summed over i in increasing order (nn/distributed/gradient_fold.hpp), so a round is exactly
// the next `ranks` terms of that sum. Evaluation shards the same way: a "step" of ranks batches,
// one micro-batch each, so batch b is computed by rank b mod ranks.
#pragma once

#include <cstdint>
#include <vector>

namespace kiln::nn {

struct StepPlan {
  std::int64_t samples = 0;           // in the epoch, on all ranks together
  std::int64_t batch_size = 1;        // samples per optimizer step
  std::int64_t micro_batch_size = 1;  // divides batch_size
  bool drop_last = false;
  int rank = 0, ranks = 1;

  // Throws kiln::Error naming the setting to change.
  void check() const;
  std::int64_t steps() const;
  std::int64_t step_samples(std::int64_t step) const;
  std::int64_t micro_batches(std::int64_t step) const;
  std::int64_t micro_samples(std::int64_t step, std::int64_t micro) const;
  std::int64_t rounds(std::int64_t step) const;
  bool computes(std::int64_t micro) const { return micro % ranks == rank; }
  // The epoch-order positions this rank reads from step `first_step` on, micro-batch after
  // micro-batch: read in runs of micro_batch_size they are exactly its micro-batches.
  std::vector<std::uint64_t> positions(std::int64_t first_step) const;
};

}  // namespace kiln::nn
