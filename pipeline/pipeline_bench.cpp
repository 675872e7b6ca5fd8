#include "pipeline/pipeline_bench.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>

#include "io/dataset_reader.hpp"
#include "pipeline/loader.hpp"
#include "pipeline/normalize.hpp"
#include "pipeline/transforms/pca_lighting.hpp"
#include "pipeline/transforms/registry.hpp"

namespace kiln::pipeline {

namespace {

// FNV-1a's mixing step over 64-bit words (bytes for the tail): order-sensitive, so it also checks
// that batches come in order, and cheap enough (one multiply per 8 bytes) not to be what the
// benchmark measures.
class Digest {
 public:
  void add(const void* data, std::size_t bytes) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    std::size_t i = 0;
    for (; i + 8 <= bytes; i += 8) {
      std::uint64_t word;
      std::memcpy(&word, p + i, 8);
      mix(word);
    }
    for (; i < bytes; ++i) mix(p[i]);
  }
  std::uint64_t value() const { return hash_; }

 private:
  void mix(std::uint64_t v) {
    hash_ ^= v;
    hash_ *= 1099511628211ULL;
  }
  std::uint64_t hash_ = 14695981039346656037ULL;
};

}  // namespace

PipelineBenchResult bench_pipeline(const PipelineBenchRequest& request) {
  auto data = std::make_shared<const io::DatasetReader>(request.data_path);
  const Normalization normalization =
      Normalization::from_statistics(data->statistics(), data->channel_order());
  LoaderOptions options;
  options.batch_size = request.batch_size;
  options.seed = request.seed;
  options.mode = nn::Mode::kTrain;
  options.threads = request.threads;
  options.limit = request.limit;
  Loader loader(data, normalization,
                make_stages(with_fitted_pca(request.stages, data->statistics().covariance,
                                            request.data_path)),
                options);
  PipelineBenchResult result;
  result.samples_per_epoch = loader.num_samples();
  result.max_in_flight = loader.max_in_flight();
  Digest digest;
  nn::Batch batch;
  for (std::int64_t epoch = 0; epoch < request.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    loader.start_epoch(static_cast<std::uint64_t>(epoch));
    std::int64_t samples = 0;
    while (loader.next(batch)) {
      digest.add(batch.inputs.data(),
                 static_cast<std::size_t>(batch.inputs.size()) * sizeof(float));
      digest.add(batch.labels.data(), batch.labels.size() * sizeof(std::int32_t));
      digest.add(batch.indices.data(), batch.indices.size() * sizeof(std::uint64_t));
      samples += batch.size();
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.images_per_second.push_back(seconds > 0 ? static_cast<double>(samples) / seconds : 0);
    result.peak_in_flight = std::max(result.peak_in_flight, loader.peak_in_flight());
  }
  result.digest = digest.value();
  return result;
}

}  // namespace kiln::pipeline
