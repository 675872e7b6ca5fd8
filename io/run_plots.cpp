#include "io/run_plots.hpp"

#include <filesystem>

#include "io/csv_log.hpp"
#include "io/line_chart.hpp"

namespace kiln::io {

nn::Verdict RunPlots::on_epoch_end(nn::TrainState& /*state*/, const nn::EpochLogs& /*logs*/) {
  const LogTable log = read_csv_log(csv_log_);
  const std::vector<double> epoch = log.column("epoch");
  const std::filesystem::path dir(folder_);
  write_line_chart_png((dir / "loss.png").string(), "loss", epoch,
                       {{"loss", log.column("loss")}, {"val_loss", log.column("val_loss")}});
  write_line_chart_png(
      (dir / "accuracy.png").string(), "accuracy", epoch,
      {{"accuracy", log.column("accuracy")}, {"val_accuracy", log.column("val_accuracy")}});
  write_line_chart_png((dir / "lr.png").string(), "learning rate", epoch,
                       {{"learning rate", log.column("learning_rate")}});
  return nn::Verdict::kContinue;
}

}  // namespace kiln::io
