// Constant folding for kiln import: an ONNX node whose inputs are all constants (initializers,
// Constant nodes, or values already folded) becomes a constant itself, so graphs of older and
// other exporters reach the layers they describe. CNTK and Caffe2 exports reshape a weight before
// its MatMul; PyTorch's flatten is Shape → Gather → Unsqueeze → Concat → Reshape; tf2onnx casts
// and transposes constants. Folded: Identity, Reshape, Transpose, Squeeze, Unsqueeze, Cast,
// Concat, Gather, Flatten, Shape (of a constant), and Add, Sub, Mul, Div of constants of one size
// or by one value (PyTorch computes ShuffleNet's group size so).
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kiln::io {

// An initializer or Constant: its dims and values (floats; integer tensors converted).
struct OnnxConstant {
  std::vector<std::int64_t> dims;
  std::vector<float> values;
  std::vector<std::int64_t> integers;  // INT64/INT32 tensors (shapes, indices) as they are
  std::int64_t count() const;
};

// A node's attribute by name, or null; an integer attribute, or `fallback` when it is absent.
const onnx::AttributeProto* onnx_attribute(const onnx::NodeProto& node, const char* name);
std::int64_t onnx_int_attribute(const onnx::NodeProto& node, const char* name,
                                std::int64_t fallback);

// Throws kiln::Error naming `where` and the tensor for a type kiln does not read.
OnnxConstant read_onnx_tensor(const onnx::TensorProto& t, const std::string& where);

// The node's output when its op folds, from `inputs` (one per node input; null for an empty
// one). nullopt: the op is not one that folds. Throws kiln::Error (without the node's name, which
// the caller adds) for inputs the op cannot take.
std::optional<OnnxConstant> fold_onnx_node(const onnx::NodeProto& node,
                                           const std::vector<const OnnxConstant*>& inputs);

}  // namespace kiln::io
