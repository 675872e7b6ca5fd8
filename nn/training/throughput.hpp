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

// The synthetic batch both measurements step on: N(0, 1) inputs and uniform labels, as the
// PyTorch peer uses, keyed by seed.
class SyntheticTrainingStep {
 public:
  SyntheticTrainingStep(Model& model, Optimizer& optimizer, std::int64_t batch, std::uint64_t seed);
  // One training step: zero the gradients, forward, softmax cross-entropy, backward, SGD step.
  void train();
  void infer();

 private:
  Model& model_;
  Optimizer& optimizer_;
  std::uint64_t seed_;
  Tensor x_;
  std::vector<std::int32_t> labels_;
  std::vector<std::uint64_t> rows_;
  std::vector<Parameter*> parameters_;
  Tensor dlogits_;
  std::uint64_t step_ = 0;
};

double median(std::vector<double> values);

}  // namespace kiln::nn
