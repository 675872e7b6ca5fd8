#include "nn/callbacks/early_stopping.hpp"

#include <limits>
#include <span>
#include <string>

#include "nn/error.hpp"

namespace kiln::nn {

bool higher_is_better(const std::string& mode, const std::string& monitor) {
  if (mode == "max") return true;
  if (mode == "min") return false;
  if (mode == "auto") return monitor.find("acc") != std::string::npos;
  throw Error("mode must be min, max or auto, got '" + mode + "'");
}

EarlyStopping::EarlyStopping(EarlyStoppingOptions options, Model* model)
    : options_(std::move(options)),
      model_(model),
      maximize_(higher_is_better(options_.mode, options_.monitor)) {
  if (options_.patience < 0) throw Error("early stopping: patience must be >= 0");
  if (options_.min_delta < 0) throw Error("early stopping: min_delta must be >= 0");
  if (options_.restore_best_weights && !model_)
    throw Error("early stopping: restore_best_weights needs the model");
  best_ = maximize_ ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
}

bool EarlyStopping::improves(double value, double reference) const {
  return maximize_ ? value > reference + options_.min_delta
                   : value < reference - options_.min_delta;
}

Verdict EarlyStopping::on_epoch_end(TrainState& state, const EpochLogs& logs) {
  const Verdict verdict = decide(state, logs);
  Json saved = {{"wait", wait_}, {"best_epoch", best_epoch_}};
  if (best_epoch_ > 0) saved["best"] = best_;  // ±infinity has no JSON form
  state.callbacks["early_stopping"] = saved;
  return verdict;
}

void EarlyStopping::restore(const TrainState& state) {
  if (!state.callbacks.contains("early_stopping")) return;
  const Json& saved = state.callbacks.at("early_stopping");
  wait_ = saved.value("wait", std::int64_t{0});
  best_epoch_ = saved.value("best_epoch", std::int64_t{0});
  if (saved.contains("best")) best_ = saved.at("best").get<double>();
}

// The best epoch's tensors live in the TrainState, so a checkpoint carries them across a resume.
std::string EarlyStopping::best_weights_name(std::size_t tensor) {
  return "early_stopping.best." + std::to_string(tensor);
}

Verdict EarlyStopping::decide(TrainState& state, const EpochLogs& logs) {
  const double value = logs.metric(options_.monitor);
  ++wait_;
  if (improves(value, best_)) {
    best_ = value;
    best_epoch_ = logs.epoch;
    if (options_.restore_best_weights) {
      const auto tensors = model_->state_tensors();
      for (std::size_t i = 0; i < tensors.size(); ++i) {
        const std::span<const float> values = tensors[i]->span();
        state.callback_arrays[best_weights_name(i)].assign(values.begin(), values.end());
      }
    }
    if (!options_.baseline || improves(value, *options_.baseline)) wait_ = 0;
    return Verdict::kContinue;
  }
  if (wait_ >= options_.patience && logs.epoch > 1) {
    stopped_epoch_ = logs.epoch;
    if (options_.restore_best_weights) restore_best_weights(state);
    return Verdict::kStop;
  }
  return Verdict::kContinue;
}

// Nothing to restore when no epoch improved, or when resuming a checkpoint written before the
// weights were kept in it: the current weights stay.
void EarlyStopping::restore_best_weights(const TrainState& state) const {
  const auto tensors = model_->state_tensors();
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto best = state.callback_arrays.find(best_weights_name(i));
    if (best == state.callback_arrays.end() ||
        best->second.size() != static_cast<std::size_t>(tensors[i]->size())) {
      return;
    }
  }
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const std::vector<float>& best = state.callback_arrays.at(best_weights_name(i));
    std::copy(best.begin(), best.end(), tensors[i]->data());
  }
}

}  // namespace kiln::nn
