#include "io/run_files/csv_log.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>

#include "io/atomic_file.hpp"
#include "nn/error.hpp"

namespace kiln::io {

std::vector<double> LogTable::column(const std::string& name) const {
  const auto at = std::find(columns.begin(), columns.end(), name);
  std::vector<double> values(rows.size(), std::numeric_limits<double>::quiet_NaN());
  if (at == columns.end()) return values;
  const auto c = static_cast<std::size_t>(at - columns.begin());
  for (std::size_t r = 0; r < rows.size(); ++r) values[r] = rows[r][c];
  return values;
}

const std::vector<double>* LogTable::row_of_epoch(std::int64_t epoch) const {
  for (const auto& row : rows) {
    if (!row.empty() && row[0] == static_cast<double>(epoch)) return &row;
  }
  return nullptr;
}

double LogTable::at_epoch(std::int64_t epoch, const std::string& name) const {
  const std::vector<double>* row = row_of_epoch(epoch);
  const auto at = std::find(columns.begin(), columns.end(), name);
  if (row == nullptr || at == columns.end()) return std::numeric_limits<double>::quiet_NaN();
  return (*row)[static_cast<std::size_t>(at - columns.begin())];
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == '"') {
      if (quoted && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else {
        quoted = !quoted;
      }
    } else if (c == ',' && !quoted) {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  for (std::string& f : fields) {
    const auto first = f.find_first_not_of(" \t\r\n");
    f = first == std::string::npos ? ""
                                   : f.substr(first, f.find_last_not_of(" \t\r\n") - first + 1);
  }
  return fields;
}

double LogTable::at_row(std::size_t row, const std::string& name) const {
  const auto at = std::find(columns.begin(), columns.end(), name);
  if (row >= rows.size() || at == columns.end()) return std::numeric_limits<double>::quiet_NaN();
  return rows[row][static_cast<std::size_t>(at - columns.begin())];
}

LogTable read_csv_log(const std::string& path) {
  LogTable table;
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) return table;
  table.columns = split_csv_line(line);
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<std::string> cells = split_csv_line(line);
    cells.resize(table.columns.size());
    std::vector<double> row(cells.size(), std::numeric_limits<double>::quiet_NaN());
    for (std::size_t c = 0; c < cells.size(); ++c) {
      char* end = nullptr;
      const double value = std::strtod(cells[c].c_str(), &end);
      if (!cells[c].empty() && *end == '\0') row[c] = value;
    }
    table.rows.push_back(std::move(row));
    table.cells.push_back(std::move(cells));
  }
  return table;
}

std::vector<std::string> LogTable::text_column(const std::string& name) const {
  const auto at = std::find(columns.begin(), columns.end(), name);
  std::vector<std::string> values(cells.size());
  if (at == columns.end()) return values;
  const auto c = static_cast<std::size_t>(at - columns.begin());
  for (std::size_t r = 0; r < cells.size(); ++r) values[r] = cells[r][c];
  return values;
}

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
  // Regression has no accuracy: its score columns hold the mean absolute error.
  const bool regression = logs.task == nn::Task::kRegression;
  const bool top5 = logs.classes > 5 && logs.task == nn::Task::kClassification;
  const double score = regression ? logs.mae : logs.accuracy;
  const double val_score = !val ? 0 : regression ? logs.validation->mae : logs.validation->accuracy;
  const std::string row = std::to_string(logs.epoch) + "," + cell(true, logs.loss, "%.6f") + "," +
                          cell(true, score, "%.6f") + "," +
                          cell(val, val ? logs.validation->loss : 0, "%.6f") + "," +
                          cell(val, val_score, "%.6f") + "," +
                          cell(true, static_cast<double>(logs.learning_rate), "%.6g") + "," +
                          cell(true, logs.seconds, "%.3f") + "," + cell(top5, logs.top5, "%.6f") +
                          "," + cell(top5 && val, val ? logs.validation->top5 : 0, "%.6f") + "," +
                          std::to_string(logs.samples);
  rows_.emplace_back(row);
  const std::string name = regression ? "mae" : "accuracy";
  std::string text = "epoch,loss," + name + ",val_loss,val_" + name +
                     ",learning_rate,seconds,top5,val_top5,samples\n";
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
