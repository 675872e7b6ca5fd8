// Loader: a kiln HDF5 dataset streamed through the flow graph (pipeline/graph.hpp) as an
// nn::BatchSource. Train mode shuffles and runs the stages' random draws; eval mode keeps the
// stored order and uses the stages' deterministic eval() forms.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "io/dataset_reader.hpp"
#include "nn/batch_source.hpp"
#include "nn/distributed/step_plan.hpp"
#include "nn/layer.hpp"
#include "pipeline/batch_mixing.hpp"
#include "pipeline/normalize.hpp"
#include "pipeline/transform.hpp"
#include "pipeline/views.hpp"

namespace kiln::pipeline {

class EpochGraph;
class TensorPool;

struct LoaderOptions {
  std::int64_t batch_size = 128;
  std::uint64_t seed = 0;
  nn::Mode mode = nn::Mode::kTrain;
  bool shuffle = true;  // only in train mode
  // Train mode: draw each epoch class-balanced instead of shuffling (pipeline/epoch_order.hpp).
  bool balanced = false;
  bool drop_last = false;
  std::int64_t prefetch_batches = 4;  // samples in flight = prefetch_batches * batch_size
  int threads = 0;                    // 0: all cores
  std::int64_t limit = 0;             // > 0: use only the first `limit` samples
  // Non-empty: the dataset indices this loader visits (a validation split); `limit` applies to it.
  std::vector<std::uint64_t> subset{};
  // Eval mode only: every sample becomes views->views_per_image() consecutive rows (multi-crop).
  std::optional<ViewOptions> views;
  // Steps of micro-batches spread over ranks (nn/distributed/step_plan.hpp). Train mode: batches of
  // micro_batch_size (0: batch_size), this rank's share of each step of batch_size samples.
  // Eval mode: this rank's batches of batch_size, batch b on rank b mod ranks. num_samples()
  // stays the whole epoch's count.
  std::int64_t micro_batch_size = 0;
  int rank = 0, ranks = 1;
  // Train mode only: mixup or cutmix over each (micro-)batch, with the dataset's classes.
  std::optional<BatchMixing> mixing{};
};

class Loader final : public nn::BatchSource {
 public:
  // Throws kiln::Error when the options are out of range or the normalization does not fit the
  // dataset's channels.
  Loader(std::shared_ptr<const io::DatasetReader> reader, Normalization normalization,
         std::vector<std::unique_ptr<Stage>> stages, LoaderOptions options);
  ~Loader() override;

  // The dataset's images after the stages' size changes, or the view size with views.
  nn::Shape sample_shape() const override;
  std::int64_t num_samples() const override;
  void start_epoch(std::uint64_t epoch) override;
  // Seeks: the skipped batches' samples are never read or decoded.
  void start_epoch_at(std::uint64_t epoch, std::int64_t first_batch) override;
  bool next(nn::Batch& batch) override;

  // Peak samples in flight during the current epoch (never above prefetch_batches * batch_size).
  std::int64_t peak_in_flight() const;
  std::int64_t max_in_flight() const { return options_.prefetch_batches * options_.batch_size; }

  // Where a batch tensor the caller kept (instead of handing it back through next()) can be
  // returned once it is free, so later batches reuse its memory. It may outlive the loader.
  std::weak_ptr<TensorPool> tensor_pool() const { return pool_; }

 private:
  cv::Size sample_size() const;
  bool planned() const;
  nn::StepPlan plan() const;

  std::shared_ptr<const io::DatasetReader> reader_;
  Normalization normalization_;
  std::vector<std::unique_ptr<Stage>> stages_;
  LoaderOptions options_;
  std::shared_ptr<TensorPool> pool_;  // before graph_: the graph uses it until it is destroyed
  std::unique_ptr<EpochGraph> graph_;
  std::uint64_t epoch_ = 0;  // of the stream under way
};

}  // namespace kiln::pipeline
