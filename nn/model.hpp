// Sequential: a list of layers applied one after another, with shapes inferred at construction.
// Its config is JSON: {"input": [C, H, W], "layers": [{"type": "dense", "units": 512}, ...]}, the
// form stored in model files; from_config(config()) rebuilds the same architecture.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nn/layer.hpp"

namespace kiln::nn {

class Sequential {
 public:
  // Throws kiln::Error when the config is malformed or a layer rejects its input shape.
  static Sequential from_config(const Json& config);

  Json config() const;

  // Initializes every layer from (seed, 0, layer position, kSlotInit).
  void initialize(std::uint64_t seed);

  // x: (N, C, H, W) matching input_shape(). Returns the output (N, ...), owned by the model and
  // valid until the next forward(). Activations are kept for backward().
  const Tensor& forward(const Tensor& x, const StepContext& ctx);

  // doutput: dL/d(output of the last forward). Adds into every parameter's grad.
  void backward(const Tensor& x, const Tensor& doutput);

  std::vector<Parameter*> parameters();
  void zero_grad();

  // Regularization (nn/regularizer.hpp) of every parameter, in parameter order.
  double regularization_penalty();
  void add_regularization_gradients();
  void apply_constraints();  // max-norm, after an optimizer step
  std::int64_t parameter_count();

  Shape input_shape() const { return input_; }    // per sample, n = 1
  Shape output_shape() const { return output_; }  // per sample, n = 1
  std::size_t size() const { return layers_.size(); }
  Layer& layer(std::size_t i) { return *layers_[i]; }
  Shape layer_output_shape(std::size_t i) const { return output_shapes_[i]; }  // n = 1

  // A Keras-style table: layer, output shape, parameter count, and the totals.
  std::string summary();

 private:
  Shape input_;
  Shape output_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<Shape> output_shapes_;  // per layer, n = 1
  std::vector<Tensor> activations_;   // activations_[i] = output of layer i (unless absorbed)
  // absorbed_[i]: layer i is a ReLU that layer i - 1 applies itself (Layer::absorb_relu); its
  // output is then activations_[output_of_[i]], the absorbing layer's.
  std::vector<bool> absorbed_;
  std::vector<std::size_t> output_of_;
  std::vector<Tensor> gradients_;  // two ping-pong buffers for dL/d(activation)
};

}  // namespace kiln::nn
