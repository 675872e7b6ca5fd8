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

  SyntheticTrainingStep step(model, optimizer, o.batch, o.seed);
  report.train_images_per_second = time_windows([&] { step.train(); }, o);
  report.infer_images_per_second = time_windows([&] { step.infer(); }, o);
  return report;
}

SyntheticTrainingStep::SyntheticTrainingStep(Model& model, Optimizer& optimizer, std::int64_t batch,
                                             std::uint64_t seed)
    : model_(model),
      optimizer_(optimizer),
      seed_(seed),
      x_(model.input_shape().with_n(batch)),
      labels_(static_cast<std::size_t>(batch)),
      rows_(static_cast<std::size_t>(batch)),
      parameters_(model.parameters()) {
  Rng rng({seed, 0, 0, 1});
  for (float& v : x_.span()) v = rng.normal();
  const std::int64_t classes = model.output_shape().per_sample();
  for (std::size_t i = 0; i < labels_.size(); ++i) {
    labels_[i] = static_cast<std::int32_t>(rng.randint(0, classes));
    rows_[i] = i;
  }
}

void SyntheticTrainingStep::train() {
  const StepContext ctx{Mode::kTrain, seed_, step_++, rows_};
  model_.zero_grad();
  const Tensor& logits = model_.forward(x_, ctx);
  SoftmaxCrossEntropy::compute(logits, labels_, &dlogits_, nullptr);
  model_.backward(x_, dlogits_);
  optimizer_.step(parameters_, 0.01f);
}

void SyntheticTrainingStep::infer() {
  StepContext ctx{Mode::kEval, seed_, 0, rows_};
  ctx.output_only = true;  // as evaluate and predict run
  model_.forward(x_, ctx);
}

}  // namespace kiln::nn
