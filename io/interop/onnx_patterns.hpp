// Layers that exporters write as chains of ONNX nodes, recognized node by node for kiln import.
//   gelu:            Div by √2 → Erf → Add 1 → Mul by x → Mul 0.5 (PyTorch's GELU below opset 20)
//   layer_norm:      ReduceMean over channels → Sub → Pow 2 → ReduceMean → Add ε → Sqrt → Div →
//                    Mul γ → Add β: over the last axis of a channels-last value (PyTorch's
//                    LayerNorm below opset 17, as ConvNeXt applies it between Transposes), or
//                    over axis 1 (kiln's export)
//   channel_shuffle: Reshape to (N, g, C/g, H, W) → Transpose (0, 2, 1, 3, 4) → Reshape to
//                    (N, C, H, W) (ShuffleNet v2)
// Each chain's steps are held, by the value they produce, until its last node completes it; each
// step must read the step before (and the chain's input where the pattern says so). A node that
// continues no chain is left to the importer.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "io/interop/onnx_folding.hpp"
#include "nn/json.hpp"

namespace kiln::io {

struct OnnxPatternLayer {
  std::string input;                                 // the ONNX value the layer reads
  Json layer;                                        // its type and options
  std::map<std::string, std::vector<float>> arrays;  // its weights, by parameter name
};

class OnnxPatterns {
 public:
  // What the patterns ask of the graph being read.
  struct Graph {
    std::function<const OnnxConstant*(const std::string&)> constant;  // null: not a constant
    std::function<bool(const std::string&)> is_activation;  // the input's or a layer's output
    std::function<bool(const std::string&)> channels_last;  // an activation read as (N, H, W, C)
    std::function<std::vector<std::int64_t>(const std::string&)> shape;  // an activation's
  };
  explicit OnnxPatterns(Graph graph) : graph_(std::move(graph)) {}

  // Reads `node`. nullopt: it belongs to no pattern. Otherwise it was taken: the optional inside
  // holds the layer when the node completed a pattern. Throws kiln::Error (without the node's
  // name) for a chain that starts like a pattern and cannot be one.
  std::optional<std::optional<OnnxPatternLayer>> read(const onnx::NodeProto& node);

 private:
  struct Held {
    std::string pattern;  // "gelu", "layer_norm", "channel_shuffle"
    std::string input;    // the value the chain started from
    int step = 0;
    bool channels_last = false;  // layer_norm: over the last axis (else axis 1)
    float epsilon = 0.f;         // layer_norm
    std::int64_t groups = 0;     // channel_shuffle
    std::vector<float> gamma;    // layer_norm
  };
  using Step = std::optional<std::optional<OnnxPatternLayer>>;

  Step gelu(const onnx::NodeProto& node);
  Step layer_norm(const onnx::NodeProto& node);
  Step channel_shuffle(const onnx::NodeProto& node);

  // The chain `pattern` holds at input k of the node, at `step`; null when there is none.
  const Held* held(const onnx::NodeProto& node, int k, const char* pattern, int step) const;
  // Input k when it is a constant of one value within 1e-5 (relative) of `value`.
  bool constant_is(const onnx::NodeProto& node, int k, float value) const;
  Step hold(const onnx::NodeProto& node, Held h);

  Graph graph_;
  std::map<std::string, Held> held_;
};

}  // namespace kiln::io
