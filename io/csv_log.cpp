#include "io/csv_log.hpp"

#include <cstdio>
#include <fstream>

#include "io/atomic_file.hpp"
#include "nn/error.hpp"

namespace kiln::io {

CsvLog::CsvLog(std::string path, std::int64_t resumed_epochs) : path_(std::move(path)) {
  if (resumed_epochs <= 0) return;
  std::ifstream in(path_);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    if (!line.empty() && std::stoll(line) <= resumed_epochs) rows_.push_back(line);
  }
}

nn::Verdict CsvLog::on_epoch_end(nn::TrainState& /*state*/, const nn::EpochLogs& logs) {
  // Empty cells for what does not exist: validation without validation data, top-5 with five
  // classes or fewer.
  auto cell = [](bool present, double value, const char* format) {
    char text[32] = "";
    if (present) std::snprintf(text, sizeof text, format, value);
    return std::string(text);
  };
  const bool val = logs.validation.has_value();
  const bool top5 = logs.classes > 5;
  const std::string row = std::to_string(logs.epoch) + "," + cell(true, logs.loss, "%.6f") + "," +
                          cell(true, logs.accuracy, "%.6f") + "," +
                          cell(val, val ? logs.validation->loss : 0, "%.6f") + "," +
                          cell(val, val ? logs.validation->accuracy : 0, "%.6f") + "," +
                          cell(true, static_cast<double>(logs.learning_rate), "%.6g") + "," +
                          cell(true, logs.seconds, "%.3f") + "," + cell(top5, logs.top5, "%.6f") +
                          "," + cell(top5 && val, val ? logs.validation->top5 : 0, "%.6f");
  rows_.emplace_back(row);
  std::string text =
      "epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds,top5,val_top5\n";
  for (const std::string& r : rows_) text += r + "\n";
  write_file_atomically(path_, text, "the training log");
  return nn::Verdict::kContinue;
}

}  // namespace kiln::io
