// EpochGraph: the TBB flow graph of one epoch, on one page (graph.cpp):
//
//   input (positions 0..n-1) → limiter (samples in flight) → read [parallel] → augment [parallel]
//     → pack [parallel] → sequencer (restores position order) → batcher [serial] → BatchQueue
//
// Backpressure: a sample holds its limiter slot until the consumer takes the batch holding it
// (release()), so at most max_in_flight samples exist at once whatever the dataset size.
// Determinism: randomness is keyed by (seed, epoch, dataset index, stage position) and the
// sequencer restores the order, so batches are bit-identical for any thread count or schedule.
// The graph lives in its own task_arena: the consumer's parallel loops never pick up graph tasks.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "io/dataset_reader.hpp"
#include "nn/batch_source.hpp"
#include "nn/layer.hpp"
#include "pipeline/normalize.hpp"
#include "pipeline/transform.hpp"
#include "pipeline/views.hpp"

namespace kiln::pipeline {

// Batch tensors handed back by the consumer, kept for later batches — across epochs, since the
// owner (the Loader) outlives each epoch's graph. Fresh 38 MB tensors (64 × 224² × 3 floats) cost
// the serial batcher a zero-fill and a page fault per 4 KiB.
class TensorPool {
 public:
  explicit TensorPool(std::size_t capacity) : capacity_(capacity) {}
  void give(nn::Tensor tensor);
  // A spare tensor, or an empty one when none is left.
  nn::Tensor take();

 private:
  std::mutex mutex_;
  std::vector<nn::Tensor> spare_;
  std::size_t capacity_;
};

struct EpochSpec {
  const io::DatasetReader* reader = nullptr;
  const std::vector<std::unique_ptr<Stage>>* stages = nullptr;
  const Normalization* normalization = nullptr;
  nn::Mode mode = nn::Mode::kEval;
  std::uint64_t seed = 0;
  std::uint64_t epoch = 0;
  std::vector<std::uint64_t> order;  // dataset indices in visiting order
  std::int64_t batch_size = 1;
  std::int64_t max_in_flight = 1;  // >= batch_size
  bool drop_last = false;
  int threads = 0;       // 0: all cores
  cv::Size sample_size;  // (W, H) after the stages (and views): what every batch row must be
  // Evaluation only: each sample becomes views->views_per_image() consecutive batch rows, all
  // with the sample's label and index (the multi-crop expansion, pipeline/views.hpp). batch_size
  // still counts samples.
  const ViewOptions* views = nullptr;
  TensorPool* pool = nullptr;  // optional: where batch tensors come from
};

// What the batcher hands to the consumer: a batch, the end of the epoch, or a failure.
struct BatchItem {
  nn::Batch batch;
  bool end = false;
  std::string error;
};

class EpochGraph {
 public:
  explicit EpochGraph(EpochSpec spec);  // builds the graph and starts it
  ~EpochGraph();                        // cancels what is left and waits for running tasks
  EpochGraph(const EpochGraph&) = delete;
  EpochGraph& operator=(const EpochGraph&) = delete;

  // Takes the next item in order; runs graph tasks on the calling thread while none is ready.
  BatchItem next();

  // Highest number of samples admitted but not yet released, for tests of the bound.
  std::int64_t peak_in_flight() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiln::pipeline
