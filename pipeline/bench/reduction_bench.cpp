#include "pipeline/bench/reduction_bench.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "nn/distributed/gradient_fold.hpp"
#include "nn/layer.hpp"
#include "nn/random.hpp"

namespace kiln::pipeline {
namespace {

// Rank r's gradient: values whose float sums depend on the order they are added in.
float contribution(int rank, std::int64_t k) {
  const auto x =
      static_cast<float>((k * 2654435761u + static_cast<std::uint64_t>(rank) * 97u) % 1000003u);
  return (x - 500000.f) * 1e-3f * static_cast<float>(1 + rank);
}

// Every rank waits for the others: the timings start together.
void wait_for_all(nn::Communicator& ranks) {
  const std::uint8_t nothing = 0;
  ranks.all_gather_bytes({&nothing, 1});
}

}  // namespace

ReductionBenchResult bench_reduction(nn::Communicator& ranks,
                                     const std::function<void(std::span<float>)>& unordered_sum,
                                     std::int64_t floats, int repeats) {
  ReductionBenchResult result;
  result.floats = floats;
  result.ranks = ranks.size();
  nn::Parameter gradient{"bench", nn::Tensor({1, floats, 1, 1}), nn::Tensor({1, floats, 1, 1})};
  const auto fill = [&](float* out) {
    for (std::int64_t k = 0; k < floats; ++k) out[k] = contribution(ranks.rank(), k);
  };
  nn::GradientFold fold({&gradient}, ranks);
  // One micro-batch per rank per step: the data-parallel setting with the least traffic.
  const nn::StepPlan plan{ranks.size(), ranks.size(), 1, false, ranks.rank(), ranks.size()};
  std::vector<float> unordered(static_cast<std::size_t>(floats));
  for (int repeat = 0; repeat < repeats; ++repeat) {
    fill(gradient.grad.data());
    wait_for_all(ranks);
    auto start = std::chrono::steady_clock::now();
    fold.begin_step(plan, 0);
    fold.add_round(0, true);
    fold.finish();
    result.ordered_seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());

    fill(unordered.data());
    wait_for_all(ranks);
    start = std::chrono::steady_clock::now();
    unordered_sum(unordered);
    result.allreduce_seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  for (std::int64_t k = 0; k < floats; ++k) {
    float sum = contribution(0, k);
    for (int r = 1; r < ranks.size(); ++r) sum += contribution(r, k);
    result.ordered_exact &= gradient.grad[k] == sum;
    result.largest_difference = std::max(
        result.largest_difference,
        static_cast<double>(std::abs(gradient.grad[k] - unordered[static_cast<std::size_t>(k)])));
  }
  return result;
}

}  // namespace kiln::pipeline
