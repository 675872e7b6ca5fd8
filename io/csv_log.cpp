#include "io/csv_log.hpp"

#include <cstdio>
#include <fstream>

#include "io/atomic_file.hpp"
#include "nn/error.hpp"

namespace kiln::io {

std::vector<std::string> rows_through_epoch(const std::string& path, std::int64_t epochs) {
  std::vector<std::string> rows;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    if (!line.empty() && std::stoll(line) <= epochs) rows.push_back(line);
  }
  return rows;
}

CsvLog::CsvLog(std::string path, std::int64_t resumed_epochs) : path_(std::move(path)) {
  if (resumed_epochs > 0) rows_ = rows_through_epoch(path_, resumed_epochs);
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

BatchCsvLog::BatchCsvLog(std::string path, std::int64_t every, std::int64_t resumed_epochs)
    : path_(std::move(path)), every_(every) {
  if (every_ < 1) throw Error(path_ + ": log every N batches needs N >= 1");
  if (resumed_epochs > 0) rows_ = rows_through_epoch(path_, resumed_epochs);
}

void BatchCsvLog::on_batch_end(const nn::TrainState& state, std::int64_t batch, double loss) {
  if ((batch + 1) % every_ != 0) return;
  char row[160];
  std::snprintf(row, sizeof row, "%lld,%lld,%lld,%.6f,%.6g",
                static_cast<long long>(state.epoch + 1), static_cast<long long>(batch + 1),
                static_cast<long long>(state.step), loss, static_cast<double>(state.learning_rate));
  rows_.emplace_back(row);
}

nn::Verdict BatchCsvLog::on_epoch_end(nn::TrainState& /*state*/, const nn::EpochLogs& /*logs*/) {
  std::string text = "epoch,batch,step,loss,learning_rate\n";
  for (const std::string& r : rows_) text += r + "\n";
  write_file_atomically(path_, text, "the batch log");
  return nn::Verdict::kContinue;
}

}  // namespace kiln::io
