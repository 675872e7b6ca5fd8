// LrScheduleCallback: sets TrainState::learning_rate from a Schedule at the start of every epoch,
// times TrainState::rate_scale (what ReduceLROnPlateau has taken off so far), so the two compose:
// a plateau reduction lasts, and the schedule still shapes the rate around it.
#pragma once

#include "nn/training/schedule.hpp"
#include "nn/training/trainer.hpp"

namespace kiln::nn {

class LrScheduleCallback final : public Callback {
 public:
  LrScheduleCallback(Schedule schedule, double base_rate, std::int64_t epochs)
      : schedule_(std::move(schedule)), base_(base_rate), epochs_(epochs) {}
  void on_epoch_begin(TrainState& state) override {
    state.learning_rate =
        static_cast<float>(schedule_.rate(base_, state.epoch, epochs_) * state.rate_scale);
  }

 private:
  Schedule schedule_;
  double base_;
  std::int64_t epochs_;
};

}  // namespace kiln::nn
