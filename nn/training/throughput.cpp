#include "nn/training/throughput.hpp"

#include <algorithm>
#include <chrono>
#include <functional>

#include "nn/kernels/gemm.hpp"
#include "nn/loss.hpp"

namespace kiln::nn {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Calibrates how many steps fill a window, then times `windows` windows.
std::vector<double> time_windows(const std::function<void()>& step, const ThroughputOptions& o) {
  for (int i = 0; i < o.warmup_steps; ++i) step();
  auto start = Clock::now();
  int calibration = 0;
  while (seconds_since(start) < 0.5) {
    step();
    ++calibration;
  }
  const double per_step = seconds_since(start) / calibration;
  const int steps = std::max(3, static_cast<int>(o.window_seconds / per_step));
  std::vector<double> rates;
  for (int w = 0; w < o.windows; ++w) {
    start = Clock::now();
    for (int s = 0; s < steps; ++s) step();
    rates.push_back(static_cast<double>(steps * o.batch) / seconds_since(start));
  }
  return rates;
}

}  // namespace

double median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : 0.5 * (values[mid - 1] + values[mid]);
}

ThroughputReport measure_throughput(Model& model, Optimizer& optimizer,
                                    const ThroughputOptions& o) {
  ThroughputReport report;
  std::int64_t macs = 0, macs_after_first = 0;
  for (std::size_t i = 0; i < model.size(); ++i) {
    macs += nn::macs(model.layer(i));
    if (macs > nn::macs(model.layer(i)))
      macs_after_first += nn::macs(model.layer(i));  // not the first weighted layer
  }
  report.gemm = gemm_kernel_name();
  report.forward_flops = 2.0 * static_cast<double>(macs);
  report.train_flops = report.forward_flops + 2.0 * static_cast<double>(macs) +
                       2.0 * static_cast<double>(macs_after_first);

  // Synthetic batch: N(0, 1) inputs, uniform labels, as the PyTorch peer uses.
  Tensor x(model.input_shape().with_n(o.batch));
  Rng rng({o.seed, 0, 0, 1});
  for (float& v : x.span()) v = rng.normal();
  const std::int64_t classes = model.output_shape().per_sample();
  std::vector<std::int32_t> labels(static_cast<std::size_t>(o.batch));
  std::vector<std::uint64_t> rows(static_cast<std::size_t>(o.batch));
  for (std::size_t i = 0; i < labels.size(); ++i) {
    labels[i] = static_cast<std::int32_t>(rng.randint(0, classes));
    rows[i] = i;
  }
  const std::vector<Parameter*> params = model.parameters();
  Tensor dlogits;
  std::uint64_t step_index = 0;

  report.train_images_per_second = time_windows(
      [&] {
        const StepContext ctx{Mode::kTrain, o.seed, step_index++, rows};
        model.zero_grad();
        const Tensor& logits = model.forward(x, ctx);
        SoftmaxCrossEntropy::compute(logits, labels, &dlogits, nullptr);
        model.backward(x, dlogits);
        optimizer.step(params, 0.01f);
      },
      o);
  report.infer_images_per_second = time_windows(
      [&] {
        model.forward(x, {Mode::kEval, o.seed, 0, rows});
      },
      o);
  return report;
}

}  // namespace kiln::nn
