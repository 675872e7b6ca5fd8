#include "nn/distributed/step_plan.hpp"

#include <algorithm>
#include <string>

#include "nn/error.hpp"

namespace kiln::nn {

void StepPlan::check() const {
  if (batch_size < 1) throw Error("batch_size must be >= 1, got " + std::to_string(batch_size));
  if (micro_batch_size < 1 || batch_size % micro_batch_size != 0) {
    throw Error("micro_batch_size (" + std::to_string(micro_batch_size) +
                ") must divide batch_size (" + std::to_string(batch_size) +
                "); e.g. batch_size / ranks for data-parallel training");
  }
  if (ranks < 1 || rank < 0 || rank >= ranks) {
    throw Error("rank " + std::to_string(rank) + " of " + std::to_string(ranks) +
                " is not a valid rank");
  }
}

std::int64_t StepPlan::steps() const {
  return drop_last ? samples / batch_size : (samples + batch_size - 1) / batch_size;
}

std::int64_t StepPlan::step_samples(std::int64_t step) const {
  return std::clamp<std::int64_t>(samples - step * batch_size, 0, batch_size);
}

std::int64_t StepPlan::micro_batches(std::int64_t step) const {
  return (step_samples(step) + micro_batch_size - 1) / micro_batch_size;
}

std::int64_t StepPlan::micro_samples(std::int64_t step, std::int64_t micro) const {
  return std::clamp<std::int64_t>(step_samples(step) - micro * micro_batch_size, 0,
                                  micro_batch_size);
}

std::int64_t StepPlan::rounds(std::int64_t step) const {
  return (micro_batches(step) + ranks - 1) / ranks;
}

std::vector<std::uint64_t> StepPlan::positions(std::int64_t first_step) const {
  std::vector<std::uint64_t> out;
  for (std::int64_t step = std::max<std::int64_t>(first_step, 0); step < steps(); ++step) {
    const std::int64_t start = step * batch_size;
    for (std::int64_t micro = rank; micro < micro_batches(step); micro += ranks) {
      const std::int64_t first = start + micro * micro_batch_size;
      for (std::int64_t k = 0; k < micro_samples(step, micro); ++k) {
        out.push_back(static_cast<std::uint64_t>(first + k));
      }
    }
  }
  return out;
}

}  // namespace kiln::nn
