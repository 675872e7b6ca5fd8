#include "nn/trainer.hpp"

#include <chrono>
#include <cmath>
#include <sstream>

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
  if (name == "loss") return loss;
  if (name == "accuracy") return accuracy;
  if (name == "val_loss" || name == "val_accuracy") {
    if (!validation) {
      throw Error("the monitored metric '" + name +
                  "' needs validation data (--validation FILE); or monitor loss");
    }
    return name == "val_loss" ? validation->loss : validation->accuracy;
  }
  throw Error("unknown metric '" + name + "'; use loss, accuracy, val_loss or val_accuracy");
}

void Trainer::fit(Model& model, Optimizer& optimizer, BatchSource& source, TrainState& state,
                  std::int64_t epochs, std::span<Callback* const> callbacks, const Loss& loss,
                  BatchSource* validation) {
  check_source_fits(model, source);
  const std::vector<Parameter*> params = model.parameters();
  Batch batch;
  Tensor dlogits;
  while (state.epoch < epochs) {
    for (Callback* cb : callbacks) cb->on_epoch_begin(state);
    const float epoch_rate = state.learning_rate;
    EpochProgress& done = state.progress;  // non-zero when resuming a mid-epoch checkpoint
    const double seconds_before = done.seconds;
    const auto start = std::chrono::steady_clock::now();
    source.start_epoch_at(static_cast<std::uint64_t>(state.epoch), done.batches);
    while (source.next(batch)) {
      const StepContext ctx{Mode::kTrain, state.seed, static_cast<std::uint64_t>(state.epoch),
                            batch.indices};
      model.zero_grad();
      const Tensor& logits = model.forward(batch.inputs, ctx);
      LossResult result = loss.compute(logits, batch.labels, &dlogits);
      result.loss += model.regularization_penalty();
      if (!std::isfinite(result.loss)) {
        std::ostringstream msg;
        msg << "training loss became " << result.loss << " at epoch " << state.epoch + 1
            << ", step " << state.step << "; the learning rate (" << state.learning_rate
            << ") is the usual cause: lower it";
        throw Error(msg.str());
      }
      model.backward(batch.inputs, dlogits);
      model.add_regularization_gradients();
      optimizer.step(params, state.learning_rate);
      model.apply_constraints();
      ++state.step;
      done.loss_sum += result.loss * static_cast<double>(batch.size());
      done.correct += result.correct;
      done.correct_top5 += result.correct_top5;
      done.samples += batch.size();
      ++done.batches;
      done.seconds =
          seconds_before +
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      for (Callback* cb : callbacks) cb->on_batch_end(state, done.batches - 1, result.loss);
    }
    ++state.epoch;
    EpochLogs logs;
    logs.epoch = state.epoch;
    logs.samples = done.samples;
    const auto per_sample = [&](double total) {
      return done.samples ? total / static_cast<double>(done.samples) : 0.0;
    };
    logs.loss = per_sample(done.loss_sum);
    logs.accuracy = per_sample(static_cast<double>(done.correct));
    logs.top5 = per_sample(static_cast<double>(done.correct_top5));
    logs.classes = model.output_shape().per_sample();
    logs.seconds = done.seconds;
    logs.learning_rate = epoch_rate;
    state.progress = {};
    if (validation) logs.validation = evaluate(model, *validation, loss);
    bool stop = false;
    for (Callback* cb : callbacks) stop |= cb->on_epoch_end(state, logs) == Verdict::kStop;
    if (stop) break;
  }
}

EvalResult Trainer::evaluate(Model& model, BatchSource& source, const Loss& loss) {
  check_source_fits(model, source);
  source.start_epoch(0);
  Batch batch;
  EvalResult out;
  double loss_sum = 0.0;
  std::int64_t correct = 0, correct_top5 = 0;
  out.classes = model.output_shape().per_sample();
  while (source.next(batch)) {
    const StepContext ctx{Mode::kEval, 0, 0, batch.indices};
    const Tensor& logits = model.forward(batch.inputs, ctx);
    const LossResult result = loss.compute(logits, batch.labels, nullptr);
    loss_sum += result.loss * static_cast<double>(batch.size());
    correct += result.correct;
    correct_top5 += result.correct_top5;
    out.samples += batch.size();
  }
  if (out.samples > 0) {
    out.loss = loss_sum / static_cast<double>(out.samples);
    out.accuracy = static_cast<double>(correct) / static_cast<double>(out.samples);
    out.top5 = static_cast<double>(correct_top5) / static_cast<double>(out.samples);
  }
  return out;
}

}  // namespace kiln::nn
