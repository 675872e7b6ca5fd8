#include "nn/kernels/machine_limits.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include "nn/kernels/aligned_vector.hpp"
#include "nn/kernels/simd.hpp"

namespace kiln::nn {
namespace {

using Clock = std::chrono::steady_clock;

// Runs body(thread) on `threads` threads at once; returns the wall seconds until all are done.
double run_on_threads(int threads, const std::function<void(int)>& body) {
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) workers.emplace_back(body, t);
  for (std::thread& worker : workers) worker.join();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Enough independent chains to cover the FMA latency on every port (4 cycles × 2 ports, with
// room to spare); one simd::Vec is one AVX-512 register, two AVX2 ones.
constexpr int kChains = 10;

// `rounds` × kChains vector FMAs; returns a sum so the compiler cannot drop them.
float fma_chains(std::int64_t rounds, float seed) {
  simd::Vec acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = simd::Vec{} + seed * static_cast<float>(c + 1);
  const simd::Vec a = simd::Vec{} + 0.999999f, b = simd::Vec{} + 1e-7f;
  for (std::int64_t r = 0; r < rounds; ++r) {
#pragma GCC unroll 16
    for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * a + b;
  }
  simd::Vec total{};
  for (const simd::Vec& v : acc) total += v;
  float sum = 0;
  for (std::int64_t lane = 0; lane < simd::kLanes; ++lane) sum += total[lane];
  return sum;
}

// Sums `count` floats with independent vector accumulators: a pure streaming read.
float stream_sum(const float* data, std::int64_t count) {
  simd::Vec acc[4] = {};
  for (std::int64_t i = 0; i + 4 * simd::kLanes <= count; i += 4 * simd::kLanes) {
    for (int c = 0; c < 4; ++c) acc[c] += simd::load(data + i + c * simd::kLanes);
  }
  const simd::Vec total = acc[0] + acc[1] + acc[2] + acc[3];
  float sum = 0;
  for (std::int64_t lane = 0; lane < simd::kLanes; ++lane) sum += total[lane];
  return sum;
}

}  // namespace

MachineLimits measure_machine_limits(int threads, double seconds) {
  threads = std::max(1, threads);
  MachineLimits limits;
  std::vector<float> sink(static_cast<std::size_t>(threads));

  // Calibrate the rounds on one thread, then time all threads together.
  std::int64_t rounds = 1 << 16;
  while (run_on_threads(1, [&](int t) { sink[t] = fma_chains(rounds, 1.f); }) < seconds / 4)
    rounds *= 2;
  const double flops_per_thread = 2.0 * kChains * simd::kLanes * static_cast<double>(rounds);
  for (int round = 0; round < 3; ++round) {
    const double s = run_on_threads(
        threads, [&](int t) { sink[t] = fma_chains(rounds, 1.f + static_cast<float>(t)); });
    limits.fma_gflops = std::max(limits.fma_gflops, flops_per_thread * threads / s / 1e9);
  }

  constexpr std::int64_t kFloatsPerThread = std::int64_t{16} << 20;  // 64 MB
  std::vector<AlignedVector<float>> buffers(static_cast<std::size_t>(threads));
  run_on_threads(threads, [&](int t) { buffers[t].assign(kFloatsPerThread, 1.f); });
  int passes = 1;
  while (run_on_threads(1, [&](int t) {
           for (int p = 0; p < passes; ++p)
             sink[t] += stream_sum(buffers[t].data(), kFloatsPerThread);
         }) < seconds / 4)
    passes *= 2;
  const double bytes_per_thread = 4.0 * kFloatsPerThread * passes;
  for (int round = 0; round < 3; ++round) {
    const double s = run_on_threads(threads, [&](int t) {
      for (int p = 0; p < passes; ++p) sink[t] += stream_sum(buffers[t].data(), kFloatsPerThread);
    });
    limits.memory_gbytes = std::max(limits.memory_gbytes, bytes_per_thread * threads / s / 1e9);
  }
  // The sums are never read; a volatile store keeps the compiler from dropping their work.
  volatile float keep = 0;
  for (const float s : sink) keep = keep + s;
  return limits;
}

}  // namespace kiln::nn
