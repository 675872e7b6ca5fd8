// LayerGraph: the wiring of a model's "layers" list, before any layer is built.
//
// Each entry is a layer's options plus three keys the graph reads itself:
//   "name"      unique; by default <type>_<k>, k counting that type from 1 ("conv2d_2"), as Keras
//               names layers, so a chain written before names existed gets the same names;
//   "inputs"    a name or a list of names ("input" is the model's input); by default the layer
//               listed just before, so a plain list is a chain;
//   "trainable" false freezes the layer (no gradient step; batch norm uses running statistics).
// The model's output is the last layer listed. Every other layer must feed some layer, every input
// must name a layer, and the wiring must have no cycle: errors name the layer and its inputs.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "nn/json.hpp"

namespace kiln::nn {

struct GraphNode {
  std::string type;
  std::string name;
  Json options;                        // the layer's own options: name, inputs, trainable removed
  std::vector<std::ptrdiff_t> inputs;  // positions in the list; kModelInput for the model's input
  bool trainable = true;
  bool default_inputs = true;  // "inputs" was absent (config() then leaves it out)
  bool default_name = true;
};

class LayerGraph {
 public:
  static constexpr std::ptrdiff_t kModelInput = -1;

  // Throws kiln::Error naming the layer (by name and position) for a malformed entry, a duplicate
  // name, an unknown input, a cycle or a layer that feeds nothing.
  static LayerGraph parse(const Json& layers);

  const std::vector<GraphNode>& nodes() const { return nodes_; }
  // Positions in an order where every layer comes after its inputs: the listed order when it
  // already is one (then results are those of a plain chain, bit for bit).
  const std::vector<std::size_t>& order() const { return order_; }
  // consumers()[i]: the layers that read layer i's output, in execution order.
  const std::vector<std::vector<std::size_t>>& consumers() const { return consumers_; }
  // Whether every layer reads only the one listed before it.
  bool is_chain() const;

  // "'conv2d_3' (layer 7)": how messages name a layer.
  std::string describe(std::size_t i) const;

  // The layer entries back as JSON, leaving out names and inputs that are the defaults.
  Json entry(std::size_t i, const Json& options) const;

 private:
  void resolve_inputs(const std::vector<Json>& given);
  void sort_topologically();
  void check_every_layer_is_used() const;

  std::vector<GraphNode> nodes_;
  std::vector<std::size_t> order_;
  std::vector<std::vector<std::size_t>> consumers_;
};

}  // namespace kiln::nn
