// BatchSource: the seam between data and training (docs/design.md). nn defines it; kiln::pipeline
// implements it with the TBB flow graph; tests implement it with in-memory vectors.
#pragma once

#include <cstdint>
#include <vector>

#include "nn/loss.hpp"
#include "nn/tensor.hpp"

namespace kiln::nn {

struct Batch {
  Tensor inputs;                       // (N, C, H, W), normalized float
  std::vector<std::int32_t> labels;    // N
  std::vector<std::uint64_t> indices;  // N dataset indices: the key of per-sample randomness
  // (N, K) target rows when a batch stage mixed the samples (mixup, cutmix); empty otherwise, and
  // then the targets are the labels, one-hot. labels keep each row's own class either way.
  Tensor targets;
  std::int64_t size() const { return static_cast<std::int64_t>(labels.size()); }
  Targets loss_targets() const { return Targets{labels, targets.size() > 0 ? &targets : nullptr}; }
};

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual Shape sample_shape() const = 0;        // per sample, n = 1
  virtual std::int64_t num_samples() const = 0;  // samples in one epoch
  // Starts (or restarts) the stream of `epoch`. Abandons whatever is left of a previous epoch.
  virtual void start_epoch(std::uint64_t epoch) = 0;
  // Starts `epoch` at its batch `first_batch` (a resume from a mid-epoch checkpoint): next() gives
  // that batch first, the same batch an uninterrupted epoch would give. This default reads and
  // drops the batches before it; sources that can seek override it.
  virtual void start_epoch_at(std::uint64_t epoch, std::int64_t first_batch) {
    start_epoch(epoch);
    Batch skipped;
    for (std::int64_t b = 0; b < first_batch && next(skipped); ++b) {
    }
  }
  // Fills `batch` with the next batch of the epoch; returns false when the epoch is over. What
  // `batch` held before is given up: a source may reuse its memory.
  // Throws kiln::Error when the data cannot be read (and the error policy says stop).
  virtual bool next(Batch& batch) = 0;
};

}  // namespace kiln::nn
