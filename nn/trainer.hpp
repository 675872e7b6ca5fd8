// Trainer: the loop. fit() runs epochs of forward → loss → backward → optimizer step over a
// BatchSource; evaluate() runs forward only. Everything a resume needs is in TrainState.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "nn/batch_source.hpp"
#include "nn/loss.hpp"
#include "nn/model.hpp"
#include "nn/optimizer.hpp"

namespace kiln::nn {

struct TrainState {
  std::uint64_t seed = 0;
  std::int64_t epoch = 0;  // epochs completed
  std::int64_t step = 0;   // optimizer steps taken
  float learning_rate = 0.01f;
};

struct EpochLogs {
  std::int64_t epoch = 0;  // 1-based: the epoch just finished
  double loss = 0.0;       // mean over the epoch's samples
  double accuracy = 0.0;
  std::int64_t samples = 0;
  double seconds = 0.0;
};

struct EvalResult {
  double loss = 0.0;
  double accuracy = 0.0;
  std::int64_t samples = 0;
};

enum class Verdict { kContinue, kStop };

// Every hook has a no-op default.
class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_batch_end(const TrainState& /*state*/, std::int64_t /*batch*/, double /*loss*/) {}
  virtual Verdict on_epoch_end(TrainState& /*state*/, const EpochLogs& /*logs*/) {
    return Verdict::kContinue;
  }
};

class Trainer {
 public:
  // Trains from state.epoch until `epochs` epochs are completed (or a callback says stop).
  // Throws kiln::Error when the source's samples do not fit the model, or the loss is not finite.
  // The reported training loss includes the regularization penalty (Keras semantics).
  static void fit(Sequential& model, Optimizer& optimizer, BatchSource& source, TrainState& state,
                  std::int64_t epochs, std::span<Callback* const> callbacks = {},
                  const Loss& loss = SoftmaxCrossEntropy{});

  static EvalResult evaluate(Sequential& model, BatchSource& source,
                             const Loss& loss = SoftmaxCrossEntropy{});
};

}  // namespace kiln::nn
