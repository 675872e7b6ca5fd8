// measure_throughput: images per second of a model's training step (forward + softmax
// cross-entropy + backward + optimizer step) and of inference, on synthetic data. What
// `kiln bench train` runs, shaped like ../shared/bench/torch_train_speed.py so the two can be
// compared side by side: warm-up steps, then timed windows of about window_seconds each.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nn/model/model.hpp"
#include "nn/training/optimizer.hpp"

namespace kiln::nn {

struct ThroughputOptions {
  std::int64_t batch = 128;
  int warmup_steps = 10;
  int windows = 7;
  double window_seconds = 2.0;
  std::uint64_t seed = 1;
};

struct ThroughputReport {
  std::vector<double> train_images_per_second;  // one per window
  std::vector<double> infer_images_per_second;
  double forward_flops = 0;  // per image: 2 × multiply-accumulates of dense/conv layers
  double train_flops = 0;    // forward + weight gradients + input gradients (none for layer 0)
  std::string gemm;          // what runs the dense/conv products (nn/kernels/gemm.hpp)
};

ThroughputReport measure_throughput(Model& model, Optimizer& optimizer,
                                    const ThroughputOptions& options);

double median(std::vector<double> values);

}  // namespace kiln::nn
