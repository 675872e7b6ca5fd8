// GradientFold: a step's gradient as the sum of its micro-batches' gradients, taken in
// micro-batch order (nn/distributed/step_plan.hpp), on one rank or many: the weights come out bit-identical
// for any number of ranks and threads.
//
// The flattened gradient (every parameter, in order) is cut into `ranks` contiguous slices and
// rank s owns slice s. Each round is an all-to-all in which every rank sends slice s of its
// micro-batch's gradient to rank s; rank s adds what arrives in rank order, which is micro-batch
// order, since round j brings micro-batches j·ranks ... j·ranks + ranks − 1. finish() all-gathers
// the slices. MPI_Allreduce promises no order, so it cannot give this guarantee. With one
// micro-batch per rank per step this moves what a ring all-reduce moves: (ranks − 1)/ranks of the
// gradient each way in the reduce-scatter, the same again in the all-gather.
#pragma once

#include <cstdint>
#include <vector>

#include "nn/distributed/communicator.hpp"
#include "nn/distributed/step_plan.hpp"
#include "nn/layer.hpp"

namespace kiln::nn {

class GradientFold {
 public:
  GradientFold(std::vector<Parameter*> params, Communicator& ranks);

  void begin_step(const StepPlan& plan, std::int64_t step);
  // Collective. `computed`: this rank computed its micro-batch of the round, and the parameters'
  // grad tensors hold that micro-batch's gradient (and nothing else).
  void add_round(std::int64_t round, bool computed);
  // Collective. Leaves the step's gradient in every rank's grad tensors.
  void finish();

  // Wall time spent inside the collective operations since construction.
  double communication_seconds() const { return communication_seconds_; }
  std::int64_t gradient_size() const { return total_; }

 private:
  void flatten_into(std::vector<float>& out) const;
  void add_to_slice(const float* contribution, bool first);

  std::vector<Parameter*> params_;
  Communicator& ranks_;
  std::int64_t total_ = 0;
  std::vector<int> slice_counts_, slice_offsets_;  // by owning rank
  std::vector<int> zeros_;
  std::vector<float> send_, received_, slice_, gathered_;
  StepPlan plan_{};
  std::int64_t step_ = 0, micro_batches_ = 0;
  bool single_ = true;  // one micro-batch in the step on one rank: the grads already are the sum
  double communication_seconds_ = 0.0;
};

}  // namespace kiln::nn
