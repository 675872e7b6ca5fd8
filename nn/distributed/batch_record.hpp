// BatchRecord: what one micro-batch (or evaluation batch) contributes to a step's or an
// evaluation's figures, and the batch statistics its training forward saw. Ranks exchange these
// small records so that every rank folds the same figures in the same (batch) order.
#pragma once

#include <cstdint>
#include <vector>

#include "nn/distributed/communicator.hpp"

namespace kiln::nn {

struct BatchRecord {
  double loss = 0.0;  // mean over the batch's samples
  std::int64_t samples = 0, correct = 0, correct_top5 = 0;
  std::vector<double> statistics{};
  double absolute_error =
      0.0;  // regression: Σ over the batch's rows of the row's mean |z − t|  // Model::batch_statistics() after the forward
};

// Every rank's records, in global order: rank r's j-th record is number j·ranks + r (the
// round-robin order of nn/distributed/step_plan.hpp). One rank: `mine` itself.
std::vector<BatchRecord> gather_in_order(Communicator& ranks, std::vector<BatchRecord> mine);

}  // namespace kiln::nn
