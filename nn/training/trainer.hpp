// Trainer: the loop. fit() runs epochs of forward → loss → backward → optimizer step over a
// BatchSource; evaluate() runs forward only. Everything a resume needs is in TrainState.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "nn/batch_source.hpp"
#include "nn/distributed/communicator.hpp"
#include "nn/json.hpp"
#include "nn/loss.hpp"
#include "nn/model/model.hpp"
#include "nn/training/optimizer.hpp"

namespace kiln::nn {

// How far the epoch under way has got: what a mid-epoch checkpoint needs so that a resumed run
// skips the batches already trained and reports the epoch's figures as one uninterrupted epoch.
struct EpochProgress {
  std::int64_t batches = 0;  // optimizer steps taken in this epoch
  std::int64_t samples = 0, correct = 0, correct_top5 = 0;
  double loss_sum = 0.0;            // sum over samples of the batch loss
  double absolute_error_sum = 0.0;  // regression: sum over samples of |output − target|'s mean
  double seconds = 0.0;             // training time spent on the epoch so far
};

struct TrainState {
  std::uint64_t seed = 0;
  std::int64_t epoch = 0;     // epochs completed
  std::int64_t step = 0;      // optimizer steps taken
  float learning_rate = 0.f;  // the caller sets it (kiln train: the config's optimizer.lr)
  // Multiplies the scheduled rate: ReduceLROnPlateau's reductions, which a schedule must not undo.
  double rate_scale = 1.0;
  // Callback state by callback name (patience counters, best values), written by the callbacks at
  // the end of each epoch and saved in checkpoints, so a resumed run stops and decays as the
  // uninterrupted one would.
  Json callbacks = Json::object();
  // Callback state too large for JSON (EarlyStopping's best weights), by name; saved in
  // checkpoints only.
  std::map<std::string, std::vector<float>> callback_arrays{};
  // The epoch under way (number epoch + 1); all zero between epochs.
  EpochProgress progress{};
};

// What `accuracy` means follows the task (nn/loss.hpp): top-1 for classification, subset
// accuracy for multi_label; regression reports the mean absolute error instead.
struct EvalResult {
  double loss = 0.0;
  double accuracy = 0.0;
  double top5 = 0.0;  // meaningful when classes > 5
  std::int64_t samples = 0;
  std::int64_t classes = 0;
  Task task = Task::kClassification;
  double mae = 0.0;  // regression
};

struct EpochLogs {
  std::int64_t epoch = 0;  // 1-based: the epoch just finished
  Task task = Task::kClassification;
  double loss = 0.0;  // mean over the epoch's samples (with the regularization penalty)
  double accuracy = 0.0;
  double mae = 0.0;          // regression
  double top5 = 0.0;         // label among the 5 highest outputs; meaningful when classes > 5
  std::int64_t classes = 0;  // the model's outputs
  std::int64_t samples = 0;
  double seconds = 0.0;
  float learning_rate = 0.f;             // the rate of the epoch's last step
  std::optional<EvalResult> validation;  // when fit() was given a validation source

  // "loss", "accuracy", "val_loss", "val_accuracy"; for regression "mae" and "val_mae" in place
  // of the accuracies. Throws kiln::Error for an unknown name, or a val_ metric without
  // validation data, naming the fix.
  double metric(const std::string& name) const;
};

// How an epoch's samples become steps: the batch size of a step, gradient accumulation over
// micro-batches, and the data-parallel ranks (nn/distributed/step_plan.hpp says which rank computes
// which micro-batch; a single process is one rank). The source must yield exactly this rank's
// micro-batches, in plan order, as pipeline::Loader does when given the same layout.
struct StepLayout {
  std::int64_t batch_size = 0;        // samples per optimizer step; required
  std::int64_t micro_batch_size = 0;  // 0: batch_size (one micro-batch per step)
  bool drop_last = false;
  Communicator* ranks = nullptr;  // null: this process alone
};

// Where a data-parallel step's time goes (rank-local wall time).
struct StepTimes {
  double compute_seconds = 0.0;        // forward and backward of this rank's micro-batches
  double communication_seconds = 0.0;  // inside the gradient reduction's collectives
  std::int64_t steps = 0;
};

enum class Verdict { kContinue, kStop };

// Every hook has a no-op default. Callbacks run in the order given.
class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_epoch_begin(TrainState& /*state*/) {}
  // Before every optimizer step: `step` of the epoch's `steps` (0-based; a resumed epoch starts
  // past 0). What sets the step's learning rate in state.
  virtual void on_step_begin(TrainState& /*state*/, std::int64_t /*step*/, std::int64_t /*steps*/) {
  }
  virtual void on_batch_end(const TrainState& /*state*/, std::int64_t /*batch*/, double /*loss*/) {}
  virtual Verdict on_epoch_end(TrainState& /*state*/, const EpochLogs& /*logs*/) {
    return Verdict::kContinue;
  }
};

class Trainer {
 public:
  // Trains from state.epoch until `epochs` epochs are completed (or a callback says stop). When
  // state.progress says an epoch is under way (a mid-epoch checkpoint), it continues that epoch
  // from its next batch.
  // Throws kiln::Error when the source's samples do not fit the model, or the loss is not finite.
  // The reported training loss includes the regularization penalty (Keras semantics).
  // `validation`, when given, is evaluated after every epoch, before the callbacks run.
  // Steps are made as the `layout` says, of micro-batches whose gradients are summed in
  // micro-batch order, on this rank or across `layout.ranks`: the weights depend on the layout's
  // batch and micro-batch sizes, not on the number of ranks or threads. Every rank ends with the
  // same weights, state and logs, and runs the callbacks alike (writers belong on rank 0 only).
  // Throws kiln::Error for a layout without a batch size.
  static StepTimes fit(Model& model, Optimizer& optimizer, BatchSource& source, TrainState& state,
                       std::int64_t epochs, const StepLayout& layout,
                       std::span<Callback* const> callbacks = {},
                       const Loss& loss = SoftmaxCrossEntropy{}, BatchSource* validation = nullptr);

  // With `ranks`, each rank's source yields its share of the batches (batch b on rank
  // b mod ranks) and the figures are folded in batch order: equal to one process's.
  static EvalResult evaluate(Model& model, BatchSource& source,
                             const Loss& loss = SoftmaxCrossEntropy{},
                             Communicator* ranks = nullptr);
};

}  // namespace kiln::nn
