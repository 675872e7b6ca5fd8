#include "nn/callbacks/reduce_on_plateau.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "nn/callbacks/early_stopping.hpp"
#include "nn/error.hpp"

namespace kiln::nn {

ReduceOnPlateau::ReduceOnPlateau(ReduceOnPlateauOptions options)
    : options_(std::move(options)), maximize_(higher_is_better(options_.mode, options_.monitor)) {
  if (!(options_.factor > 0.0 && options_.factor < 1.0))
    throw Error("reduce on plateau: factor must be in (0, 1)");
  if (options_.patience < 0 || options_.cooldown < 0)
    throw Error("reduce on plateau: patience and cooldown must be >= 0");
  best_ = maximize_ ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
}

Verdict ReduceOnPlateau::on_epoch_end(TrainState& state, const EpochLogs& logs) {
  const double value = logs.metric(options_.monitor);
  const bool in_cooldown = cooldown_counter_ > 0;
  if (in_cooldown) {
    --cooldown_counter_;
    wait_ = 0;
  }
  const bool improved =
      maximize_ ? value > best_ + options_.min_delta : value < best_ - options_.min_delta;
  if (improved) {
    best_ = value;
    wait_ = 0;
  } else if (!in_cooldown) {
    if (++wait_ >= options_.patience && state.learning_rate > options_.min_lr) {
      const float before = state.learning_rate;
      state.learning_rate =
          static_cast<float>(std::max(state.learning_rate * options_.factor, options_.min_lr));
      state.rate_scale *= static_cast<double>(state.learning_rate) / before;
      cooldown_counter_ = options_.cooldown;
      wait_ = 0;
    }
  }
  Json saved = {{"wait", wait_}, {"cooldown", cooldown_counter_}};
  if (std::isfinite(best_)) saved["best"] = best_;
  state.callbacks["reduce_lr"] = saved;
  return Verdict::kContinue;
}

void ReduceOnPlateau::restore(const TrainState& state) {
  if (!state.callbacks.contains("reduce_lr")) return;
  const Json& saved = state.callbacks.at("reduce_lr");
  wait_ = saved.value("wait", std::int64_t{0});
  cooldown_counter_ = saved.value("cooldown", std::int64_t{0});
  if (saved.contains("best")) best_ = saved.at("best").get<double>();
}

}  // namespace kiln::nn
