#include "io/run_plots.hpp"

#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "io/line_chart.hpp"

namespace kiln::io {

nn::Verdict RunPlots::on_epoch_end(nn::TrainState& /*state*/, const nn::EpochLogs& /*logs*/) {
  // Columns: epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds,top5,val_top5
  constexpr std::size_t kColumns = 7;
  std::vector<double> column[kColumns];
  std::ifstream in(csv_log_);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::stringstream fields(line);
    std::string field;
    for (std::size_t c = 0; c < kColumns; ++c) {
      std::getline(fields, field, ',');
      column[c].push_back(field.empty() ? std::numeric_limits<double>::quiet_NaN()
                                        : std::stod(field));
    }
  }
  const std::filesystem::path dir(folder_);
  write_line_chart_png((dir / "loss.png").string(), "loss", column[0],
                       {{"loss", column[1]}, {"val_loss", column[3]}});
  write_line_chart_png((dir / "accuracy.png").string(), "accuracy", column[0],
                       {{"accuracy", column[2]}, {"val_accuracy", column[4]}});
  write_line_chart_png((dir / "lr.png").string(), "learning rate", column[0],
                       {{"learning rate", column[5]}});
  return nn::Verdict::kContinue;
}

}  // namespace kiln::io
