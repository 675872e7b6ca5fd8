// ReduceLROnPlateau, with Keras' semantics (tf.keras.callbacks.ReduceLROnPlateau):
//   in cooldown: cooldown_counter −= 1 and wait = 0;
//   improvement (value < best − min_delta for min): best = value, wait = 0;
//   otherwise, out of cooldown: wait += 1, and at wait >= patience the rate becomes
//   max(rate · factor, min_lr) (if above min_lr), then cooldown starts and wait = 0.
// The new rate applies from the next epoch; its state (best, wait, cooldown) is what a resume
// needs.
#pragma once

#include <string>

#include "nn/training/trainer.hpp"

namespace kiln::nn {

struct ReduceOnPlateauOptions {
  std::string monitor = "val_loss";
  std::string mode = "auto";
  double factor = 0.1;  // in (0, 1)
  std::int64_t patience = 10;
  double min_lr = 0.0;
  std::int64_t cooldown = 0;
  double min_delta = 1e-4;
};

class ReduceOnPlateau final : public Callback {
 public:
  explicit ReduceOnPlateau(ReduceOnPlateauOptions options);
  Verdict on_epoch_end(TrainState& state, const EpochLogs& logs) override;
  // Takes up the counters a checkpoint saved in state.callbacks["reduce_lr"], if any.
  void restore(const TrainState& state);

 private:
  ReduceOnPlateauOptions options_;
  bool maximize_;
  double best_;
  std::int64_t wait_ = 0, cooldown_counter_ = 0;
};

}  // namespace kiln::nn
