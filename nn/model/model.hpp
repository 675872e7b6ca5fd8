// Model: layers wired as a directed acyclic graph (nn/model/graph.hpp), shapes inferred and checked at
// construction, before any data is read. A plain list of layers is a chain.
// Its config is JSON: {"input": [C, H, W], "layers": [{"type": "dense", "units": 512}, ...]}, the
// form stored in model files; from_config(config()) rebuilds the same architecture.
//
// Forward runs the layers in the graph's order; backward in reverse, so the gradient of a tensor
// read by several layers is summed in one fixed order (bit-identical for any thread count).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nn/layer.hpp"
#include "nn/model/graph.hpp"

namespace kiln::nn {

// Wall time per layer, by position in the config's list: what `kiln bench train --profile`
// reads. Each forward()/backward() adds its layers' seconds; an absorbed ReLU's time is its
// input layer's.
struct LayerTimes {
  std::vector<double> forward_seconds;
  std::vector<double> backward_seconds;
};

class Model {
 public:
  // Throws kiln::Error when the config is malformed or a layer rejects its input shapes; the
  // message names the layer (and, at a join, the shapes of its inputs).
  static Model from_config(const Json& config);

  Json config() const;

  // Initializes every layer from (seed, 0, layer position, kSlotInit).
  void initialize(std::uint64_t seed);

  // x: (N, C, H, W) matching input_shape(). Returns the output (N, ...), owned by the model and
  // valid until the next forward(). Activations are kept for backward(). Frozen layers run as in
  // evaluation (batch norm on its running statistics). With ctx.output_only (eval mode), a batch
  // norm whose input layer can apply it (AppliesChannelMap, read by nothing else) is applied by
  // that layer: the same output, one pass fewer; backward() then refuses.
  const Tensor& forward(const Tensor& x, const StepContext& ctx);

  // doutput: dL/d(output of the last forward). Adds into every trainable parameter's grad.
  void backward(const Tensor& x, const Tensor& doutput);

  // The trainable parameters (of layers not frozen): what the optimizer steps.
  std::vector<Parameter*> parameters();
  // Every parameter (frozen too) and buffer (batch-norm statistics), layer by layer: the whole
  // learned state, as EarlyStopping keeps it.
  std::vector<Tensor*> state_tensors();
  void zero_grad();
  // Every layer's nn::batch_statistics(layer) after a training forward, concatenated in layer
  // order; fold_batch_statistics() takes such a vector back (data-parallel training).
  std::vector<double> batch_statistics() const;
  void fold_batch_statistics(std::span<const double> statistics);

  // Regularization (nn/training/regularizer.hpp) of every trainable parameter, in parameter order.
  double regularization_penalty();
  void add_regularization_gradients();
  void apply_constraints();        // max-norm, after an optimizer step
  std::int64_t parameter_count();  // all parameters, frozen ones too

  Shape input_shape() const { return input_; }    // per sample, n = 1
  Shape output_shape() const { return output_; }  // per sample, n = 1
  std::size_t size() const { return layers_.size(); }
  // Layers by their position in the config's list.
  Layer& layer(std::size_t i) { return *layers_[i]; }
  const std::string& layer_name(std::size_t i) const { return graph_.nodes()[i].name; }
  bool trainable(std::size_t i) const { return graph_.nodes()[i].trainable; }
  Shape layer_output_shape(std::size_t i) const { return output_shapes_[i]; }  // n = 1
  // After forward(): what layer i passed on. A ReLU applied by the layer before it (absorbed)
  // shares that layer's tensor, which then holds the values after the ReLU. Throws kiln::Error
  // after an output-only forward, which keeps no layer's output apart.
  const Tensor& layer_output(std::size_t i) const;
  // Whether layer i applies the ReLU that follows it, so its own output is not kept apart.
  bool applies_next_relu(std::size_t i) const;
  // Whether layer i is a ReLU that the layer before it applies (it then does no work itself).
  bool absorbed(std::size_t i) const { return absorbed_[i]; }
  // Whether layer i is a batch norm that its input layer applies in output-only forwards.
  bool applied_by_input(std::size_t i) const { return mapped_by_[i] >= 0; }
  const LayerGraph& graph() const { return graph_; }

  // From now on forward() and backward() add every layer's wall time to *times (resized to
  // size()); nullptr stops. Off by default: timing is a clock read per layer and step.
  void time_layers(LayerTimes* times);

  // A Keras-style table: layer, output shape, parameter count ("connected to" for a graph), and
  // the totals.
  std::string summary();

 private:
  void build_layers();
  void plan_relu_absorption();
  void plan_channel_maps();
  // Where each layer's output is, as the last forward left it.
  const std::vector<std::size_t>& outputs() const {
    return mapped_forward_ ? mapped_output_of_ : output_of_;
  }
  const Tensor& input_of(const Tensor& x, std::ptrdiff_t in) const;
  Tensor* take_gradient_buffer();
  void backward_node(std::size_t i, const Tensor& x);
  void send_gradient(std::ptrdiff_t to, Tensor& dx_buffer, bool accumulated);

  LayerGraph graph_;
  Shape input_;
  Shape output_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<Shape> output_shapes_;  // per layer, n = 1
  std::vector<Tensor> activations_;   // activations_[i] = output of layer i (unless absorbed)
  // absorbed_[i]: layer i is a ReLU that its input layer applies itself (FusesRelu),
  // possible only when that layer has no other reader; its output is then
  // activations_[output_of_[i]], the absorbing layer's.
  std::vector<bool> absorbed_;
  std::vector<std::size_t> output_of_;
  // Output-only forwards: mapped_by_[i] = the layer that applies batch norm i (else -1), which
  // then holds the outputs that were layer i's (mapped_output_of_); map_of_[p] = that norm.
  std::vector<std::ptrdiff_t> mapped_by_, map_of_;
  std::vector<std::size_t> mapped_output_of_;
  bool mapped_forward_ = false;  // the last forward applied them so
  // needs_gradient_[i]: layer i or a layer before it trains, so backward must reach it.
  std::vector<bool> needs_gradient_;
  // Backward's dL/d(output of layer i): borrowed from a pool while some reader of layer i still
  // has to add to it, returned once layer i is done. A chain uses two buffers in turn.
  std::vector<Tensor*> gradient_of_;
  std::vector<std::unique_ptr<Tensor>> gradient_pool_;
  std::vector<Tensor*> free_gradients_;
  Tensor scratch_;  // a second reader's contribution, before it is added
  LayerTimes* times_ = nullptr;
};

}  // namespace kiln::nn
