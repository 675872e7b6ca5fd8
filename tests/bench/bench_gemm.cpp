// nn/gemm against Eigen's product on the shapes kiln multiplies, one thread, in FLOP/s
// (2·m·n·k per product). The release preset builds it; run
//   build/release/tests/bench/bench_gemm --benchmark_repetitions=5
//   --benchmark_report_aggregates_only=true
// and compare each row with one core's FMA peak (../shared/bench/gemm_peak.cpp).
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <random>
#include <vector>

#include "nn/kernels/gemm.hpp"

namespace {

using kiln::nn::StridedMatrix;
using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// One product C (m × n) = A (m × k) · B (k × n), A stored as itself or as Aᵀ (as dense's weight
// gradient gᵀ·x reads g).
struct Shape {
  std::int64_t m, n, k;
  bool a_transposed;
};

// The mlp (784-512-512-10) at batch 128, a Winograd product of cifar_cnn, and the whole-batch
// convolution products of resnet18 at 3×64×64, batch 32 (stage 3: 256 filters on 4×4, as
// parallel_gemm cuts them into blocks of 96 rows × 256 columns).
const Shape kShapes[] = {
    {128, 512, 784, false},  // 0: dense forward, first layer: y = x · Wᵀ
    {128, 784, 512, false},  // 1: dense input gradient, second layer: dx = g · W
    {512, 784, 128, true},   // 2: dense weight gradient, first layer: dW = gᵀ · x
    {64, 256, 64, false},    // 3: Winograd M = U · V, 64 channels, 256 tiles
    {96, 256, 2304, false},  // 4: conv forward block: y = W · col
    {96, 256, 512, false},   // 5: conv weight-gradient block: dW = dy · colᵀ
    {96, 256, 256, true},    // 6: conv input-gradient block: dcol = Wᵀ · dy
};

struct Operands {
  std::vector<float> a, b, c;
  explicit Operands(const Shape& s)
      : a(static_cast<std::size_t>(s.m * s.k)),
        b(static_cast<std::size_t>(s.k * s.n)),
        c(static_cast<std::size_t>(s.m * s.n)) {
    std::mt19937 gen(1);
    std::uniform_real_distribution<float> uniform(-1.f, 1.f);
    for (float& v : a) v = uniform(gen);
    for (float& v : b) v = uniform(gen);
  }
};

void set_rate(benchmark::State& state, const Shape& s) {
  state.counters["FLOP/s"] = benchmark::Counter(2.0 * double(s.m * s.n * s.k),
                                                benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::OneK::kIs1000);
}

void BM_KilnGemm(benchmark::State& state) {
  const Shape& s = kShapes[state.range(0)];
  Operands o(s);
  const StridedMatrix a =
      s.a_transposed ? StridedMatrix{o.a.data(), 1, s.m} : StridedMatrix{o.a.data(), s.k, 1};
  for (auto _ : state) {
    kiln::nn::gemm(s.m, s.n, s.k, a, o.b.data(), s.n, o.c.data(), s.n, false);
    benchmark::DoNotOptimize(o.c.data());
  }
  set_rate(state, s);
}

void BM_EigenProduct(benchmark::State& state) {
  const Shape& s = kShapes[state.range(0)];
  Operands o(s);
  Eigen::setNbThreads(1);
  const Eigen::Map<const RowMatrix> b(o.b.data(), s.k, s.n);
  Eigen::Map<RowMatrix> c(o.c.data(), s.m, s.n);
  for (auto _ : state) {
    if (s.a_transposed) {
      c.noalias() = Eigen::Map<const RowMatrix>(o.a.data(), s.k, s.m).transpose() * b;
    } else {
      c.noalias() = Eigen::Map<const RowMatrix>(o.a.data(), s.m, s.k) * b;
    }
    benchmark::DoNotOptimize(o.c.data());
  }
  set_rate(state, s);
}

BENCHMARK(BM_KilnGemm)->DenseRange(0, 6);
BENCHMARK(BM_EigenProduct)->DenseRange(0, 6);

}  // namespace

BENCHMARK_MAIN();
