// Layer: the interface every kiln::nn layer implements, and the opt-in interfaces a layer may add.
//
// clang-format off
// A layer must:
//   1. type()       return its registry name ("dense"), also the key in the model file;
//   2. build()      accept the per-sample input shape, allocate its parameters, return its
//                   output shape;
//   3. forward()    compute y from x for a batch; it may cache what backward needs;
//   4. backward()   given dy = dL/dy, ASSIGN dx = dL/dx and ADD dL/dθ into each parameter's grad
//                   (the trainer zeroes grads before each micro-batch, and a model whose output
//                   feeds several layers sums their gradients into it);
//   5. config()     return its options; from_json(LayerOptions&), next to it in the unit, reads
//                   them back (absent keys keep the defaults its options struct holds);
//   6. register one line in nn/layers/registry.cpp: the registry-driven tests then check its
//      config round trip and its gradients by finite differences; add a test file for what is
//      particular to it.
// Beyond that contract a layer opts in to what concerns it alone: FusesRelu (dense, conv2d,
// batch_norm, add), AppliesChannelMap (conv2d) and EvaluatesAsChannelMap (batch norm),
// FollowsBatchStatistics (batch norm), CountsMacs (dense, conv2d). The free functions after them
// give every layer's answer, the default for layers that did not opt in.
// clang-format on
// Randomness (dropout) is keyed by Rng{run_seed, epoch, rows[i], kSlotLayerBase + layer}: the
// sample and the layer's position, never the batch row or the thread.
// Precisely (as dlib defines it): backward computes the gradients of f = dot(y, dy) w.r.t. x and θ.
// Mode is an argument of forward, never stored: a layer has no hidden train/eval phase.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nn/json.hpp"
#include "nn/random.hpp"
#include "nn/tensor.hpp"
#include "nn/training/regularizer.hpp"

namespace kiln::nn {

class LayerOptions;  // nn/layer_options.hpp: how a layer's from_json reads its options

enum class Mode { kTrain, kEval };

// What a forward pass may depend on besides x. rows[i] is the dataset index of batch row i, so
// per-sample randomness (dropout masks) is keyed by the sample, not by its position in the batch.
struct StepContext {
  Mode mode = Mode::kEval;
  std::uint64_t run_seed = 0;
  std::uint64_t epoch = 0;
  std::span<const std::uint64_t> rows;
  std::uint32_t layer = 0;  // position of the layer in its model's list, set by Model
  // Train mode: fold the batch's statistics into the buffers now (batch norm's running mean and
  // variance). Data-parallel training turns it off and folds every micro-batch's statistics on
  // every rank afterwards, in micro-batch order (Layer::fold_batch_statistics).
  bool fold_statistics = true;
  // Eval mode: only the model's output is read after this forward (no backward, no
  // Model::layer_output), so a layer may apply the batch norm after it (AppliesChannelMap).
  bool output_only = false;
};

struct Parameter {
  std::string name;  // "weight", "bias": the dataset name in the model file
  Tensor value;
  Tensor grad;                      // same shape as value
  Regularization regularization{};  // applied by Model (nn/training/regularizer.hpp)
  bool decays = true;  // the optimizer's weight decay applies (optimizer.no_decay exempts kinds)
};

// State that is saved with the model but not trained by the optimizer (batch-norm running stats).
struct Buffer {
  std::string name;
  Tensor value;
};

class Layer {
 public:
  virtual ~Layer() = default;

  virtual std::string_view type() const = 0;

  // requires: input.n is ignored (per-sample shape). ensures: parameters() are allocated.
  // Throws kiln::Error when the layer cannot take this input shape.
  virtual Shape build(const Shape& input) = 0;

  // Fills parameters from rng (keyed per layer by the model). Default: nothing to initialize.
  virtual void initialize(Rng& /*rng*/) {}

  // x: (N, ...input), y: resized by the layer to (N, ...output).
  virtual void forward(const Tensor& x, Tensor& y, const StepContext& ctx) = 0;

  // x and y are the tensors of the last forward(); dy has y's shape; dx is resized to x's shape.
  virtual void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) = 0;

  virtual std::vector<Parameter*> parameters() { return {}; }
  virtual std::vector<Buffer*> buffers() { return {}; }

  virtual Json config() const = 0;
};

// Opt-in: a layer that can take over the work of its neighbours (dense, conv2d).
class FusesRelu {
 public:
  virtual ~FusesRelu() = default;
  // Model calls this when a ReLU follows the layer directly. The layer then applies max(0, ·) to
  // its own output, and its backward takes dy of that rectified output and masks it by y > 0
  // itself, so the ReLU layer is skipped: one pass over the activations fewer each way, and the
  // rectifying done while the output is still in cache. The results are those of the two layers
  // run apart, bit for bit.
  virtual void absorb_relu() = 0;
  // The same for a ReLU6 (MobileNet's): min(max(0, ·), 6), dy masked by 0 < y < 6. False where
  // the layer cannot (then the ReLU6 stays a layer of its own).
  virtual bool absorb_relu6() { return false; }
  // backward() for the first layer of a model, whose input gradient nobody reads: only the
  // parameter gradients are added, the costly input gradient skipped.
  virtual void backward_parameters(const Tensor& x, const Tensor& y, const Tensor& dy) = 0;
};

// Batch norm in evaluation is a map per channel c: y = γ_c·((x − μ_c)·s_c) + β_c, s_c its
// 1 / sqrt(σ²_c + ε), then max(0, ·) where it absorbed a ReLU. Each array holds one float a
// channel; apply() is batch norm's own arithmetic (nn/layers/batch_norm.cpp runs it too).
struct ChannelMap {
  const float* gamma;
  const float* mean;
  const float* inv_std;
  const float* beta;
  bool relu = false;
  // out[i] = the map of in[i], i < count, for channel c; out may be in.
  void apply(std::int64_t c, const float* in, float* out, std::int64_t count) const;
};

// Opt-in: a layer that can apply the evaluation-mode batch norm after it (a ChannelMap) to its
// output while that is still in cache, when only the model's output is read
// (StepContext::output_only): one pass over the activations fewer.
class AppliesChannelMap {
 public:
  virtual ~AppliesChannelMap() = default;
  // Whether forward_mapped() applies to the layer as built (false: the batch norm runs apart).
  virtual bool can_apply_channel_map() const = 0;
  // forward(), then `map` on every output channel: bit for bit forward() followed by the batch
  // norm's evaluation forward.
  virtual void forward_mapped(const Tensor& x, Tensor& y, const StepContext& ctx,
                              const ChannelMap& map) = 0;
};

// Opt-in: a layer that is, in evaluation, a ChannelMap (batch norm), which the layer before it
// may apply instead (AppliesChannelMap).
class EvaluatesAsChannelMap {
 public:
  virtual ~EvaluatesAsChannelMap() = default;
  // The map on the running statistics; valid until the layer's next forward() or eval_map().
  virtual ChannelMap eval_map() = 0;
};

// Opt-in: a layer whose buffers follow the statistics of its training batches (batch norm).
// Data-parallel training folds every micro-batch's statistics on every rank, in micro-batch
// order (StepContext::fold_statistics).
class FollowsBatchStatistics {
 public:
  virtual ~FollowsBatchStatistics() = default;
  // The statistics the last training forward took from its batch, in the form
  // fold_batch_statistics() folds into the buffers; empty after an eval-mode forward.
  virtual std::vector<double> batch_statistics() const = 0;
  virtual std::size_t batch_statistics_size() const = 0;  // of a training forward
  virtual void fold_batch_statistics(std::span<const double> statistics) = 0;
};

// Opt-in: a layer whose cost is worth counting, for FLOP figures in benchmarks.
class CountsMacs {
 public:
  virtual ~CountsMacs() = default;
  // Multiply-accumulates of one sample's forward pass. Valid after build().
  virtual std::int64_t macs() const = 0;
};

// Every layer's answer, whether or not it opted in:
// whether `layer` absorbed the ReLU after it (false: the ReLU stays a layer of its own);
bool absorb_relu(Layer& layer);
bool absorb_relu6(Layer& layer);  // the same for a ReLU6
// the parameter gradients only, where the layer can skip its input gradient; else backward();
void backward_parameters(Layer& layer, const Tensor& x, const Tensor& y, const Tensor& dy);
// the batch statistics of its last training forward (empty for layers without them);
std::vector<double> batch_statistics(const Layer& layer);
std::size_t batch_statistics_size(const Layer& layer);
void fold_batch_statistics(Layer& layer, std::span<const double> statistics);
// multiply-accumulates per sample (0 for the cheap element-wise layers).
std::int64_t macs(const Layer& layer);

// A layer that joins several inputs into one output (add, concat). The model calls the _join
// functions with every input; as a plain Layer it takes one input, which is the one-input join.
class JoinLayer : public Layer {
 public:
  using Inputs = std::span<const Tensor* const>;

  // Throws kiln::Error when the inputs cannot be joined (the model adds which layer they are).
  virtual Shape build_join(std::span<const Shape> inputs) = 0;
  virtual void forward_join(Inputs xs, Tensor& y) = 0;
  // Assigns dx = dL/d(input k), resized to that input's shape; y is the layer's output.
  virtual void backward_join(std::size_t k, Inputs xs, const Tensor& y, const Tensor& dy,
                             Tensor& dx) = 0;

  Shape build(const Shape& input) final { return build_join(std::span(&input, 1)); }
  void forward(const Tensor& x, Tensor& y, const StepContext& /*ctx*/) final {
    const Tensor* xs[] = {&x};
    forward_join(xs, y);
  }
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) final {
    const Tensor* xs[] = {&x};
    backward_join(0, xs, y, dy, dx);
  }
};

}  // namespace kiln::nn
