// The learning-rate range test (Smith 2017; fastai's lr_find): one pass in which the rate grows
// exponentially from min_rate to max_rate over `steps` optimizer steps, recording each batch's
// loss and its exponentially smoothed, bias-corrected average (fastai's beta = 0.98). It stops
// early once the smoothed loss passes `divergence` times its minimum, or the loss is not finite.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "nn/batch_source.hpp"
#include "nn/loss.hpp"
#include "nn/model/model.hpp"
#include "nn/training/optimizer.hpp"

namespace kiln::nn {

struct LrFindOptions {
  double min_rate = 1e-7;
  double max_rate = 10.0;
  std::int64_t steps = 100;
  double smoothing = 0.98;  // beta of the running average
  double divergence = 4.0;  // stop once smoothed > divergence * min(smoothed)
  std::uint64_t seed = 0;   // of dropout masks; the source has its own
};

struct LrFindPoint {
  double rate = 0.0;      // the rate of the step taken after this batch
  double loss = 0.0;      // this batch's loss, before that step
  double smoothed = 0.0;  // bias-corrected running average up to this batch
};

struct LrFindResult {
  std::vector<LrFindPoint> points;
  bool diverged = false;  // stopped by the divergence rule (or a non-finite loss)
  // Suggestions, both over the points up to the smoothed minimum:
  double steepest = 0.0;       // where the smoothed loss falls fastest per log-rate (from point 10)
  double minimum_by_10 = 0.0;  // the rate at the smoothed minimum, divided by 10
};

// Trains `model` in place (callers pass a copy they may discard). Epochs of `source` are started
// as needed until `steps` steps are taken. Throws kiln::Error for options out of range.
LrFindResult find_learning_rate(Model& model, Optimizer& optimizer, BatchSource& source,
                                const Loss& loss, const LrFindOptions& options);

}  // namespace kiln::nn
