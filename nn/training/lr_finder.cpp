#include "nn/training/lr_finder.hpp"

#include <algorithm>
#include <cmath>

#include "nn/error.hpp"

namespace kiln::nn {
namespace {

void check(const LrFindOptions& o) {
  if (!(o.min_rate > 0) || !(o.max_rate > o.min_rate)) {
    throw Error("the rate range must have 0 < min < max");
  }
  if (o.steps < 2) throw Error("the range test needs at least 2 steps");
  if (!(o.smoothing >= 0 && o.smoothing < 1)) throw Error("smoothing must be in [0, 1)");
  if (!(o.divergence > 1)) throw Error("the divergence factor must be above 1");
}

// Both suggestions look only at the points up to the smoothed minimum: past it the loss is
// rising. The steepest descent also skips the first 10 points (fastai's skip_start), where the
// average has seen too few batches to mean much.
void suggest(LrFindResult& r) {
  const auto& p = r.points;
  if (p.empty()) return;
  std::size_t lowest = 0;
  for (std::size_t i = 1; i < p.size(); ++i) {
    if (p[i].smoothed < p[lowest].smoothed) lowest = i;
  }
  r.minimum_by_10 = p[lowest].rate / 10.0;
  double steepest_slope = 0.0;
  const std::size_t first = std::min<std::size_t>(10, lowest / 2);
  r.steepest = p[first].rate;
  for (std::size_t i = first + 1; i <= lowest; ++i) {
    const double slope =
        (p[i].smoothed - p[i - 1].smoothed) / (std::log10(p[i].rate) - std::log10(p[i - 1].rate));
    if (slope < steepest_slope) {
      steepest_slope = slope;
      r.steepest = p[i].rate;
    }
  }
}

}  // namespace

LrFindResult find_learning_rate(Model& model, Optimizer& optimizer, BatchSource& source,
                                const Loss& loss, const LrFindOptions& options) {
  check(options);
  const std::vector<Parameter*> params = model.parameters();
  const double growth =
      std::pow(options.max_rate / options.min_rate, 1.0 / static_cast<double>(options.steps - 1));
  LrFindResult result;
  Batch batch;
  Tensor dlogits;
  double average = 0.0, best = INFINITY;
  std::uint64_t epoch = 0;
  source.start_epoch(epoch);
  for (std::int64_t step = 0; step < options.steps; ++step) {
    if (!source.next(batch)) {
      source.start_epoch(++epoch);
      if (!source.next(batch)) throw Error("the data has no samples");
    }
    const double rate = options.min_rate * std::pow(growth, static_cast<double>(step));
    model.zero_grad();
    const Tensor& logits =
        model.forward(batch.inputs, {Mode::kTrain, options.seed, epoch, batch.indices});
    LossResult computed = loss.compute(logits, batch.loss_targets(), &dlogits);
    computed.loss += model.regularization_penalty();
    if (!std::isfinite(computed.loss)) {
      result.diverged = true;
      break;
    }
    average = options.smoothing * average + (1 - options.smoothing) * computed.loss;
    const double smoothed =
        average / (1 - std::pow(options.smoothing, static_cast<double>(step + 1)));
    result.points.push_back({rate, computed.loss, smoothed});
    best = std::min(best, smoothed);
    if (smoothed > options.divergence * best) {
      result.diverged = true;
      break;
    }
    model.backward(batch.inputs, dlogits);
    model.add_regularization_gradients();
    optimizer.step(params, static_cast<float>(rate));
    model.apply_constraints();
  }
  suggest(result);
  return result;
}

}  // namespace kiln::nn
