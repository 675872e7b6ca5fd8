// Checkpoint: saves the whole training state — weights, batch-norm statistics, optimizer state,
// TrainState (seed, epoch, step, rate, callback state, and mid-epoch the epoch's progress) and
// preprocessing — to a model file after every epoch and, with `every_steps`, every that many
// optimizer steps, atomically (a kill mid-save leaves the previous checkpoint). Everything else a
// resume needs is a pure function of (seed, epoch, sample): data order, augmentation, dropout
// masks, scheduled rates.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "io/model_file.hpp"
#include "nn/json.hpp"
#include "nn/model/model.hpp"
#include "nn/training/optimizer.hpp"
#include "nn/training/trainer.hpp"

namespace kiln::io {

//
// Best-only (Keras' ModelCheckpoint(save_best_only=True)): saves only when `monitor` improves on
// the best value so far, which lives in state.callbacks["best_checkpoint"] so that a resumed run
// keeps comparing against it.
struct BestOnly {
  std::string monitor;        // loss, accuracy, val_loss, val_accuracy
  std::string mode = "auto";  // min, max, auto (accuracies up, losses down)
};

struct CheckpointOptions {
  std::optional<BestOnly> best_only{};  // a best-epoch model file, not a resume point
  std::int64_t every_steps = 0;         // > 0: also save mid-epoch (not with best_only)
};

class Checkpoint final : public nn::Callback {
 public:
  Checkpoint(std::string path, nn::Model& model, const nn::Optimizer& optimizer, Json preprocessing,
             std::vector<std::string> class_names, CheckpointOptions options = {},
             PreprocessingArrays arrays = {})
      : path_(std::move(path)),
        model_(model),
        optimizer_(optimizer),
        preprocessing_(std::move(preprocessing)),
        class_names_(std::move(class_names)),
        options_(std::move(options)),
        arrays_(std::move(arrays)) {}
  void on_batch_end(const nn::TrainState& state, std::int64_t batch, double loss) override;
  nn::Verdict on_epoch_end(nn::TrainState& state, const nn::EpochLogs& logs) override;

 private:
  std::string path_;
  nn::Model& model_;
  const nn::Optimizer& optimizer_;
  Json preprocessing_;
  std::vector<std::string> class_names_;
  void save(const nn::TrainState& state) const;

  CheckpointOptions options_;
  PreprocessingArrays arrays_;
};

}  // namespace kiln::io
