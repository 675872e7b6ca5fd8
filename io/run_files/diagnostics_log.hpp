// DiagnosticsLog: the records of nn::Diagnostics in a run directory, rewritten atomically at
// every epoch's end:
//   diagnostics.csv  one row per layer and record: epoch, step, layer, name, type,
//                    activation_mean, activation_std, dead_fraction, gradient_norm, weight_norm,
//                    update_ratio (empty where a figure does not apply);
//   diagnostics.png  activation standard deviation and update-to-weight ratio against depth (log
//                    axes), one line per moment of training: the first record, the last, and
//                    up to two evenly between.
// A resumed run keeps the rows of the epochs its checkpoint holds, as the CSV log does.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/callbacks/diagnostics.hpp"
#include "nn/training/trainer.hpp"

namespace kiln::io {

class DiagnosticsLog final : public nn::Callback {
 public:
  DiagnosticsLog(std::string folder, std::int64_t resumed_epochs = 0);
  void add(const nn::DiagnosticsRecord& record);
  nn::Verdict on_epoch_end(nn::TrainState& state, const nn::EpochLogs& logs) override;

 private:
  std::string folder_;
  std::vector<std::string> rows_;
};

}  // namespace kiln::io
