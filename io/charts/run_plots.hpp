// RunPlots: after every epoch, redraws the run directory's curves from its CSV log (io/run_files/csv_log.hpp,
// which runs first): loss.png (loss and val_loss), accuracy.png (accuracy and val_accuracy) and
// lr.png (the learning rate). Reading the log, not memory, keeps a resumed run's plots whole.
#pragma once

#include <string>

#include "nn/training/trainer.hpp"

namespace kiln::io {

class RunPlots final : public nn::Callback {
 public:
  RunPlots(std::string folder, std::string csv_log)
      : folder_(std::move(folder)), csv_log_(std::move(csv_log)) {}
  nn::Verdict on_epoch_end(nn::TrainState& state, const nn::EpochLogs& logs) override;

 private:
  std::string folder_;
  std::string csv_log_;
};

}  // namespace kiln::io
