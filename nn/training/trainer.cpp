#include "nn/training/trainer.hpp"

#include <chrono>
#include <cmath>
#include <sstream>

#include "nn/distributed/batch_record.hpp"
#include "nn/distributed/gradient_fold.hpp"
#include "nn/distributed/step_plan.hpp"
#include "nn/error.hpp"
#include "nn/loss.hpp"

namespace kiln::nn {
namespace {

void check_source_fits(const Model& model, const BatchSource& source) {
  if (source.sample_shape() != model.input_shape()) {
    throw Error("the data has samples of shape " + source.sample_shape().str() +
                " but the model expects " + model.input_shape().str() +
                "; preprocess the data to the model's input size or build a new model");
  }
}

}  // namespace

double EpochLogs::metric(const std::string& name) const {
  const std::string score = task == Task::kRegression ? "mae" : "accuracy";
  if (name == "loss") return loss;
  if (name == score) return task == Task::kRegression ? mae : accuracy;
  if (name == "val_loss" || name == "val_" + score) {
    if (!validation) {
      throw Error("the monitored metric '" + name +
                  "' needs validation data (--validation FILE); or monitor loss");
    }
    if (name == "val_loss") return validation->loss;
    return task == Task::kRegression ? validation->mae : validation->accuracy;
  }
  throw Error("unknown metric '" + name + "' for task " + std::string(task_name(task)) +
              "; use loss, " + score + ", val_loss or val_" + score);
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Forward, loss and backward of one micro-batch into freshly zeroed grads. `weight` is the
// micro-batch's share of its step (samples / step samples): the loss is a mean over the micro-batch,
// the step's gradient a mean over the step.
BatchRecord run_micro_batch(Model& model, const Loss& loss, const Batch& batch,
                            const StepContext& ctx, float weight, Tensor& dlogits) {
  model.zero_grad();
  const Tensor& logits = model.forward(batch.inputs, ctx);
  const LossResult result = loss.compute(logits, batch.loss_targets(), &dlogits);
  if (weight != 1.f) {
    for (std::int64_t k = 0; k < dlogits.size(); ++k) dlogits[k] *= weight;
  }
  model.backward(batch.inputs, dlogits);
  BatchRecord record{result.loss,         batch.size(), result.correct,
                     result.correct_top5, {},           result.absolute_error};
  if (!ctx.fold_statistics) record.statistics = model.batch_statistics();
  return record;
}

// One step as the plan lays it out: this rank's micro-batches round by round, the gradient folded
// across ranks, every micro-batch's record on every rank. A single process is one rank.
std::vector<BatchRecord> run_step(Model& model, const Loss& loss, BatchSource& source,
                                  const StepPlan& plan, std::int64_t step, Communicator& ranks,
                                  StepContext ctx, GradientFold& fold, Batch& batch,
                                  Tensor& dlogits, StepTimes& times) {
  const std::int64_t micro_batches = plan.micro_batches(step);
  const auto step_samples = static_cast<float>(plan.step_samples(step));
  fold.begin_step(plan, step);
  std::vector<BatchRecord> mine;
  for (std::int64_t round = 0; round < plan.rounds(step); ++round) {
    const std::int64_t micro = round * plan.ranks + plan.rank;
    const bool computes = micro < micro_batches;
    if (computes) {
      const auto start = Clock::now();
      if (!source.next(batch)) {
        throw Error("the data ended before micro-batch " + std::to_string(micro) + " of step " +
                    std::to_string(step + 1) + " of the epoch");
      }
      ctx.rows = batch.indices;
      const float weight =
          micro_batches == 1 ? 1.f : static_cast<float>(batch.size()) / step_samples;
      mine.push_back(run_micro_batch(model, loss, batch, ctx, weight, dlogits));
      times.compute_seconds += seconds_since(start);
    }
    fold.add_round(round, computes);
  }
  fold.finish();
  return gather_in_order(ranks, std::move(mine));
}

// The epoch's steps as the layout lays them out over this source and these ranks.
StepPlan plan_epoch(const BatchSource& source, const StepLayout& layout,
                    const Communicator& ranks) {
  if (layout.batch_size <= 0) {
    throw Error("Trainer::fit needs the step layout's batch size, the source's batch size");
  }
  StepPlan plan{source.num_samples(),
                layout.batch_size,
                layout.micro_batch_size > 0 ? layout.micro_batch_size : layout.batch_size,
                layout.drop_last,
                ranks.rank(),
                ranks.size()};
  plan.check();
  return plan;
}

// The step's loss: its micro-batches' losses weighted by their samples, plus the penalty.
// Throws kiln::Error when it is not finite, naming the usual cause.
double step_loss(const std::vector<BatchRecord>& records, std::int64_t step_samples, Model& model,
                 const TrainState& state) {
  double loss = records.front().loss;
  if (records.size() > 1) {
    double weighted = 0.0;
    for (const BatchRecord& r : records) weighted += r.loss * static_cast<double>(r.samples);
    loss = weighted / static_cast<double>(step_samples);
  }
  loss += model.regularization_penalty();
  if (!std::isfinite(loss)) {
    std::ostringstream msg;
    msg << "training loss became " << loss << " at epoch " << state.epoch + 1 << ", step "
        << state.step << "; the learning rate (" << state.learning_rate
        << ") is the usual cause: lower it";
    throw Error(msg.str());
  }
  return loss;
}

// The figures of the epoch just finished, from its progress.
EpochLogs epoch_logs(const TrainState& state, const Model& model, float rate, Task task) {
  const EpochProgress& done = state.progress;
  const auto per_sample = [&](double total) {
    return done.samples ? total / static_cast<double>(done.samples) : 0.0;
  };
  EpochLogs logs;
  logs.epoch = state.epoch;
  logs.task = task;
  logs.mae = per_sample(done.absolute_error_sum);
  logs.samples = done.samples;
  logs.loss = per_sample(done.loss_sum);
  logs.accuracy = per_sample(static_cast<double>(done.correct));
  logs.top5 = per_sample(static_cast<double>(done.correct_top5));
  logs.classes = model.output_shape().per_sample();
  logs.seconds = done.seconds;
  logs.learning_rate = rate;
  return logs;
}

}  // namespace

StepTimes Trainer::fit(Model& model, Optimizer& optimizer, BatchSource& source, TrainState& state,
                       std::int64_t epochs, const StepLayout& layout,
                       std::span<Callback* const> callbacks, const Loss& loss,
                       BatchSource* validation) {
  check_source_fits(model, source);
  const std::vector<Parameter*> params = model.parameters();
  Solo solo;
  Communicator& ranks = layout.ranks != nullptr ? *layout.ranks : solo;
  GradientFold fold(params, ranks);
  StepTimes times;
  Batch batch;
  Tensor dlogits;
  while (state.epoch < epochs) {
    for (Callback* cb : callbacks) cb->on_epoch_begin(state);
    EpochProgress& done = state.progress;  // non-zero when resuming a mid-epoch checkpoint
    const double seconds_before = done.seconds;
    const auto start = Clock::now();
    source.start_epoch_at(static_cast<std::uint64_t>(state.epoch), done.batches);
    const StepPlan plan = plan_epoch(source, layout, ranks);
    StepContext ctx{Mode::kTrain, state.seed, static_cast<std::uint64_t>(state.epoch), {}};
    ctx.fold_statistics = ranks.size() == 1;
    for (std::int64_t step = done.batches; step < plan.steps(); ++step) {
      for (Callback* cb : callbacks) cb->on_step_begin(state, step, plan.steps());
      const std::vector<BatchRecord> records =
          run_step(model, loss, source, plan, step, ranks, ctx, fold, batch, dlogits, times);
      if (!ctx.fold_statistics) {
        for (const BatchRecord& r : records) model.fold_batch_statistics(r.statistics);
      }
      std::int64_t step_samples = 0;
      for (const BatchRecord& r : records) step_samples += r.samples;
      const double loss_value = step_loss(records, step_samples, model, state);
      model.add_regularization_gradients();
      optimizer.step(params, state.learning_rate);
      model.apply_constraints();
      ++state.step;
      ++times.steps;
      done.loss_sum += loss_value * static_cast<double>(step_samples);
      for (const BatchRecord& r : records) {
        done.correct += r.correct;
        done.correct_top5 += r.correct_top5;
        done.absolute_error_sum += r.absolute_error;
      }
      done.samples += step_samples;
      ++done.batches;
      done.seconds = seconds_before + seconds_since(start);
      for (Callback* cb : callbacks) cb->on_batch_end(state, done.batches - 1, loss_value);
    }
    ++state.epoch;
    EpochLogs logs = epoch_logs(state, model, state.learning_rate, loss.options().task);
    state.progress = {};
    if (validation) logs.validation = evaluate(model, *validation, loss, &ranks);
    bool stop = false;
    for (Callback* cb : callbacks) stop |= cb->on_epoch_end(state, logs) == Verdict::kStop;
    if (stop) break;
  }
  times.communication_seconds = fold.communication_seconds();
  return times;
}

EvalResult Trainer::evaluate(Model& model, BatchSource& source, const Loss& loss,
                             Communicator* ranks) {
  check_source_fits(model, source);
  source.start_epoch(0);
  Batch batch;
  std::vector<BatchRecord> mine;
  while (source.next(batch)) {
    StepContext ctx{Mode::kEval, 0, 0, batch.indices};
    ctx.output_only = true;  // batch norms applied by the convolutions before them
    const Tensor& logits = model.forward(batch.inputs, ctx);
    const LossResult result = loss.compute(logits, batch.loss_targets(), nullptr);
    mine.push_back({result.loss,
                    batch.size(),
                    result.correct,
                    result.correct_top5,
                    {},
                    result.absolute_error});
  }
  Solo solo;
  const std::vector<BatchRecord> records =
      gather_in_order(ranks != nullptr ? *ranks : solo, std::move(mine));
  EvalResult out;
  out.classes = model.output_shape().per_sample();
  out.task = loss.options().task;
  double loss_sum = 0.0, absolute_error = 0.0;
  std::int64_t correct = 0, correct_top5 = 0;
  for (const BatchRecord& r : records) {
    loss_sum += r.loss * static_cast<double>(r.samples);
    correct += r.correct;
    correct_top5 += r.correct_top5;
    absolute_error += r.absolute_error;
    out.samples += r.samples;
  }
  if (out.samples > 0) {
    out.loss = loss_sum / static_cast<double>(out.samples);
    out.accuracy = static_cast<double>(correct) / static_cast<double>(out.samples);
    out.top5 = static_cast<double>(correct_top5) / static_cast<double>(out.samples);
    out.mae = absolute_error / static_cast<double>(out.samples);
  }
  return out;
}

}  // namespace kiln::nn
