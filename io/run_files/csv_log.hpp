// CsvLog: one row per epoch — epoch, loss, accuracy, val_loss, val_accuracy, learning_rate,
// seconds, top5, val_top5, samples (trained that epoch); regression writes mae and val_mae in
// place of the accuracies — rewritten atomically after every epoch
// (io/atomic_file.hpp), so the file is always complete and readable while training runs. Empty
// cells where there is no validation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/training/trainer.hpp"

namespace kiln::io {

class CsvLog final : public nn::Callback {
 public:
  // resumed_epochs > 0 (a resumed run): keeps the existing file's rows of those epochs, so the log
  // stays one continuous history; rows of later epochs (from a run that went on after the
  // checkpoint) are dropped, since they are about to be trained again.
  explicit CsvLog(std::string path, std::int64_t resumed_epochs = 0);
  nn::Verdict on_epoch_end(nn::TrainState& state, const nn::EpochLogs& logs) override;

 private:
  std::string path_;
  std::vector<std::string> rows_;
};

// BatchCsvLog: every `every` batches a row — epoch, batch, step, loss, learning_rate — for the
// curve within epochs; the file is rewritten atomically at the end of each epoch, and resumes as
// CsvLog does.
class BatchCsvLog final : public nn::Callback {
 public:
  BatchCsvLog(std::string path, std::int64_t every, std::int64_t resumed_epochs = 0);
  void on_batch_end(const nn::TrainState& state, std::int64_t batch, double loss) override;
  nn::Verdict on_epoch_end(nn::TrainState& state, const nn::EpochLogs& logs) override;

 private:
  std::string path_;
  std::int64_t every_;
  std::vector<std::string> rows_;
};

// Splits one CSV line on commas, honouring double quotes ("a, b" stays one field, "" is a quote),
// each field trimmed of surrounding blanks.
std::vector<std::string> split_csv_line(const std::string& line);

// A CSV log read back: its header and one row of numbers per line, NaN for a cell that is empty
// or not a number; the cells' text too.
struct LogTable {
  std::vector<std::string> columns;
  std::vector<std::vector<double>> rows;
  std::vector<std::vector<std::string>> cells;
  // The text of a column (empty strings when there is none), e.g. diagnostics.csv's layer names.
  std::vector<std::string> text_column(const std::string& name) const;
  // The column of that name (all NaN when there is none).
  std::vector<double> column(const std::string& name) const;
  // The row whose first column (the epoch) is `epoch`; nullptr when there is none.
  const std::vector<double>* row_of_epoch(std::int64_t epoch) const;
  // The value of `name` in that row, NaN when either is missing.
  double at_epoch(std::int64_t epoch, const std::string& name) const;
  // The value of `name` in row `row` (0-based), NaN when there is no such column.
  double at_row(std::size_t row, const std::string& name) const;
};

// Reads a CSV log kiln wrote (CsvLog, BatchCsvLog, cv.csv, diagnostics.csv). A missing file is an
// empty table.
LogTable read_csv_log(const std::string& path);

// The data rows of an existing CSV log whose first column (the epoch) is <= `epochs`; none when
// the file does not exist.
std::vector<std::string> rows_through_epoch(const std::string& path, std::int64_t epochs);

}  // namespace kiln::io
