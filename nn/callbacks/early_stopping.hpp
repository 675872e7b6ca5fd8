// EarlyStopping, with Keras' semantics (tf.keras.callbacks.EarlyStopping):
//   improvement: value < best − min_delta (mode min) or value > best + min_delta (mode max);
//   "auto" picks max for accuracy metrics and min otherwise;
//   every epoch wait += 1; on an improvement best = value and, when the value also beats the
//   baseline (if one is given), wait = 0; training stops when wait >= patience;
//   restore_best_weights puts back the parameters (and batch-norm statistics) of the best epoch.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "nn/model/model.hpp"
#include "nn/training/trainer.hpp"

namespace kiln::nn {

struct EarlyStoppingOptions {
  std::string monitor = "val_loss";
  std::string mode = "auto";  // min | max | auto
  double min_delta = 0.0;
  std::int64_t patience = 0;
  bool restore_best_weights = false;
  std::optional<double> baseline{};
};

// Whether `name` is better high (accuracies) under "auto"; "min"/"max" as given. Throws for others.
bool higher_is_better(const std::string& mode, const std::string& monitor);

class EarlyStopping final : public Callback {
 public:
  // model is needed only for restore_best_weights.
  EarlyStopping(EarlyStoppingOptions options, Model* model);
  Verdict on_epoch_end(TrainState& state, const EpochLogs& logs) override;
  // Takes up the counters a checkpoint saved in state.callbacks["early_stopping"], if any. The
  // best weights are in state.callback_arrays (best_weights_name), which checkpoints keep.
  void restore(const TrainState& state);
  static std::string best_weights_name(std::size_t tensor);

  std::int64_t best_epoch() const { return best_epoch_; }        // 1-based, 0: none yet
  std::int64_t stopped_epoch() const { return stopped_epoch_; }  // 1-based, 0: did not stop
  double best() const { return best_; }

 private:
  bool improves(double value, double reference) const;
  Verdict decide(TrainState& state, const EpochLogs& logs);
  void restore_best_weights(const TrainState& state) const;

  EarlyStoppingOptions options_;
  Model* model_;
  bool maximize_;
  double best_;
  std::int64_t wait_ = 0, best_epoch_ = 0, stopped_epoch_ = 0;
};

}  // namespace kiln::nn
