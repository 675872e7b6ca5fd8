#include "io/run_files/checkpoint.hpp"

#include "io/model_file.hpp"
#include "nn/callbacks/early_stopping.hpp"

namespace kiln::io {

void Checkpoint::on_batch_end(const nn::TrainState& state, std::int64_t /*batch*/,
                              double /*loss*/) {
  if (options_.best_only || options_.every_steps <= 0) return;
  if (state.step % options_.every_steps == 0) save(state);
}

nn::Verdict Checkpoint::on_epoch_end(nn::TrainState& state, const nn::EpochLogs& logs) {
  if (const std::optional<BestOnly>& best_only = options_.best_only) {
    const double value = logs.metric(best_only->monitor);
    const bool maximize = nn::higher_is_better(best_only->mode, best_only->monitor);
    Json& saved = state.callbacks["best_checkpoint"];
    if (saved.contains("best")) {
      const double best = saved.at("best").get<double>();
      if (maximize ? value <= best : value >= best) return nn::Verdict::kContinue;
    }
    saved = {{"best", value}, {"epoch", logs.epoch}, {"monitor", best_only->monitor}};
  }
  save(state);
  return nn::Verdict::kContinue;
}

// The resume point keeps the callbacks' large state; a best-epoch file is a model.
void Checkpoint::save(const nn::TrainState& state) const {
  save_model(path_, model_, optimizer_, state, preprocessing_, class_names_, arrays_,
             options_.best_only ? CallbackArrays::kOmit : CallbackArrays::kSave);
}

}  // namespace kiln::io
