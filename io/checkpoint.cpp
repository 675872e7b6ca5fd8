#include "io/checkpoint.hpp"

#include "io/model_file.hpp"
#include "nn/callbacks/early_stopping.hpp"

namespace kiln::io {

nn::Verdict Checkpoint::on_epoch_end(nn::TrainState& state, const nn::EpochLogs& logs) {
  if (best_only_) {
    const double value = logs.metric(best_only_->monitor);
    const bool maximize = nn::higher_is_better(best_only_->mode, best_only_->monitor);
    Json& saved = state.callbacks["best_checkpoint"];
    if (saved.contains("best")) {
      const double best = saved.at("best").get<double>();
      if (maximize ? value <= best : value >= best) return nn::Verdict::kContinue;
    }
    saved = {{"best", value}, {"epoch", logs.epoch}, {"monitor", best_only_->monitor}};
  }
  save_model(path_, model_, optimizer_, state, preprocessing_, class_names_, arrays_);
  return nn::Verdict::kContinue;
}

}  // namespace kiln::io
