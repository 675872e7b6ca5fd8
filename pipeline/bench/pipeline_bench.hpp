// bench_pipeline: the streaming pipeline alone — read, augment, normalize, pack, batch — timed
// epoch by epoch with nothing consuming the batches but a digest, so the figure is the pipeline's
// own throughput. The digest (FNV-1a mixing over every batch's floats, labels and indices) is
// the same for any thread count: `kiln bench pipeline --threads 1` and `--threads 8` print the same
// digest, which is docs/design.md contract 1 checked from the command line.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "nn/json.hpp"

namespace kiln::pipeline {

struct PipelineBenchRequest {
  std::string data_path;
  Json stages = Json::array();  // training stages (pca_lighting fitted from the data if needed)
  std::int64_t batch_size = 64;
  int threads = 0;
  std::int64_t epochs = 3;
  std::uint64_t seed = 1;
  std::int64_t limit = 0;  // > 0: the first `limit` samples
};

struct PipelineBenchResult {
  std::vector<double> images_per_second;  // one per epoch
  std::uint64_t digest = 0;               // of every batch of every epoch
  std::int64_t samples_per_epoch = 0;
  std::int64_t peak_in_flight = 0;
  std::int64_t max_in_flight = 0;
};

// `on_epoch` (when given) hears each epoch's 1-based number, samples and images/s as it ends.
PipelineBenchResult bench_pipeline(
    const PipelineBenchRequest& request,
    const std::function<void(std::int64_t epoch, std::int64_t samples, double images_per_second)>&
        on_epoch = {});

}  // namespace kiln::pipeline
