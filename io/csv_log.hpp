// CsvLog: one row per epoch — epoch, loss, accuracy, val_loss, val_accuracy, learning_rate,
// seconds — rewritten atomically after every epoch (io/atomic_file.hpp), so the file is always
// complete and readable while training runs. Empty cells where there is no validation.
#pragma once

#include <string>
#include <vector>

#include "nn/trainer.hpp"

namespace kiln::io {

class CsvLog final : public nn::Callback {
 public:
  explicit CsvLog(std::string path) : path_(std::move(path)) {}
  nn::Verdict on_epoch_end(nn::TrainState& state, const nn::EpochLogs& logs) override;

 private:
  std::string path_;
  std::vector<std::string> rows_;
};

}  // namespace kiln::io
