#include "io/charts/run_plots.hpp"

#include <algorithm>
#include <filesystem>
#include <limits>

#include "io/charts/line_chart.hpp"
#include "io/run_files/csv_log.hpp"

namespace kiln::io {

nn::Verdict RunPlots::on_epoch_end(nn::TrainState& /*state*/, const nn::EpochLogs& /*logs*/) {
  const LogTable log = read_csv_log(csv_log_);
  const std::vector<double> epoch = log.column("epoch");
  const std::filesystem::path dir(folder_);
  write_line_chart_png((dir / "loss.png").string(), "loss", epoch,
                       {{"loss", log.column("loss")}, {"val_loss", log.column("val_loss")}});
  // The task's score column: accuracy, or for regression the mean absolute error.
  const bool regression =
      std::find(log.columns.begin(), log.columns.end(), "mae") != log.columns.end();
  const std::string score = regression ? "mae" : "accuracy";
  write_line_chart_png((dir / (score + ".png")).string(), score, epoch,
                       {{score, log.column(score)}, {"val_" + score, log.column("val_" + score)}});
  // A schedule that spans decades (cosine to zero, step decay) reads on a log axis.
  const std::vector<double> rate = log.column("learning_rate");
  double lo = std::numeric_limits<double>::infinity(), hi = 0.0;
  for (const double r : rate)
    if (r > 0) lo = std::min(lo, r), hi = std::max(hi, r);
  write_line_chart_png((dir / "lr.png").string(), "learning rate", epoch, {{"learning rate", rate}},
                       {.log_y = hi > 10 * lo});
  return nn::Verdict::kContinue;
}

}  // namespace kiln::io
