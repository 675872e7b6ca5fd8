#include "pipeline/bench/pipeline_bench.hpp"

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

// FNV-1a's mixing step over 64-bit words (bytes for the tail), in eight independent lanes:
// order-sensitive, so it also checks that batches come in order. One lane would be a chain of
// dependent multiplies (about 4 cycles per 8 bytes: a quarter of a core at 2,500 images/s of
// 224x224); eight lanes vectorize and overlap, so the digest is not what the benchmark measures.
class Digest {
 public:
  void add(const void* data, std::size_t bytes) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    std::size_t i = 0;
    for (; i + sizeof(std::uint64_t) * kLanes <= bytes; i += sizeof(std::uint64_t) * kLanes) {
      std::uint64_t words[kLanes];
      std::memcpy(words, p + i, sizeof(words));
      for (std::size_t l = 0; l < kLanes; ++l) lanes_[l] = (lanes_[l] ^ words[l]) * kPrime;
    }
    for (; i < bytes; ++i) lanes_[0] = (lanes_[0] ^ p[i]) * kPrime;
  }
  std::uint64_t value() const {
    std::uint64_t hash = kOffset;
    for (const std::uint64_t lane : lanes_) hash = (hash ^ lane) * kPrime;
    return hash;
  }

 private:
  static constexpr std::size_t kLanes = 8;
  static constexpr std::uint64_t kPrime = 1099511628211ULL, kOffset = 14695981039346656037ULL;
  std::uint64_t lanes_[kLanes] = {kOffset, kOffset, kOffset, kOffset,
                                  kOffset, kOffset, kOffset, kOffset};
};

}  // namespace

PipelineBenchResult bench_pipeline(
    const PipelineBenchRequest& request,
    const std::function<void(std::int64_t epoch, std::int64_t samples, double images_per_second)>&
        on_epoch) {
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
    if (on_epoch) on_epoch(epoch + 1, samples, result.images_per_second.back());
    result.peak_in_flight = std::max(result.peak_in_flight, loader.peak_in_flight());
  }
  result.digest = digest.value();
  return result;
}

}  // namespace kiln::pipeline
