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
  char row[256];
  if (logs.validation) {
    std::snprintf(row, sizeof row, "%lld,%.6f,%.6f,%.6f,%.6f,%.8g,%.3f",
                  static_cast<long long>(logs.epoch), logs.loss, logs.accuracy,
                  logs.validation->loss, logs.validation->accuracy, logs.learning_rate,
                  logs.seconds);
  } else {
    std::snprintf(row, sizeof row, "%lld,%.6f,%.6f,,,%.8g,%.3f", static_cast<long long>(logs.epoch),
                  logs.loss, logs.accuracy, logs.learning_rate, logs.seconds);
  }
  rows_.emplace_back(row);
  AtomicFile file(path_);
  {
    std::ofstream out(file.temp_path());
    out << "epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds\n";
    for (const std::string& r : rows_) out << r << "\n";
    if (!out) throw Error(path_ + ": cannot write the training log (disk full?)");
  }
  file.commit();
  return nn::Verdict::kContinue;
}

}  // namespace kiln::io
