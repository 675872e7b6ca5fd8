// LrScheduleCallback: sets TrainState::learning_rate from a Schedule before every optimizer step
// (at the fractional epoch), times TrainState::rate_scale (what ReduceLROnPlateau has taken off
// so far), so the two compose: a plateau reduction lasts, and the schedule still shapes the rate
// around it.
#pragma once

#include <algorithm>

#include "nn/training/schedule.hpp"
#include "nn/training/trainer.hpp"

namespace kiln::nn {

class LrScheduleCallback final : public Callback {
 public:
  LrScheduleCallback(Schedule schedule, double base_rate, std::int64_t epochs)
      : schedule_(std::move(schedule)), base_(base_rate), epochs_(epochs) {}
  void on_step_begin(TrainState& state, std::int64_t step, std::int64_t steps) override {
    const SchedulePoint at{state.epoch, step, std::max<std::int64_t>(steps, 1), epochs_};
    state.learning_rate = static_cast<float>(schedule_.rate(base_, at) * state.rate_scale);
  }

 private:
  Schedule schedule_;
  double base_;
  std::int64_t epochs_;
};

}  // namespace kiln::nn
