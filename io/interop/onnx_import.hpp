// import_onnx: an ONNX model (as torch.onnx.export, Keras converters and the ONNX model zoo write
// them) as a kiln graph model with its weights, read with the ONNX library's protobuf classes.
//
// clang-format off
//   Conv                               conv2d with explicit padding (auto_pad SAME_UPPER: "same"),
//                                      groups and dilation
//   Gemm / MatMul (+ Add of a constant) dense: B as (units, inputs); alpha and beta folded in
//   BatchNormalization (inference)     batch_norm with the running statistics
//   Relu LeakyRelu Sigmoid Tanh        the activation layers; Clip(0, 6) relu6, Clip(0) relu,
//   HardSigmoid HardSwish              hard_sigmoid (alpha, beta), hard_swish
//   Mul                                multiply (a (C, 1, 1) gate broadcasts); x · Sigmoid(x) silu,
//                                      x · HardSigmoid(x) (1/6, 0.5) hard_swish
//   Pad (zeros, on H and W)            zero_pad2d
//   Resize, Upsample (whole factors)   upsample: nearest, or linear with half-pixel centres
//   LayerNormalization (channels-last) layer_norm
//   Slice of channels                  channel_slice
//   chains of nodes                    gelu, layer_norm, channel_shuffle (io/interop/onnx_patterns.hpp)
//   Transpose (0, 2, 3, 1) … (0, 3, 1, 2) around LayerNorm, MatMul (a 1x1 conv2d), Add and
//                                      activations: ConvNeXt's channels-last blocks
//   Mul by a constant after Conv/Gemm  that layer's weights and bias scaled (a layer scale)
//   MaxPool AveragePool                max/avg_pool2d with explicit padding; ceil_mode as extra
//                                      padding after (padding never counts in kiln's windows, as
//                                      in ONNX's ceil-mode ones); count_include_pad only unpadded
//   GlobalAveragePool, ReduceMean(H, W) global_avg_pool2d
//   Flatten (axis 1), Reshape to (N, -1)  flatten
//   Dropout                            dropout (the identity when evaluating; trains as kiln's)
//   Add, Concat (axis 1)               add, concat            LRN  lrn with alpha / size
//   Identity                           nothing                Softmax at the output: dropped
// clang-format on
// Every other op stops the import with one line naming the node, its op type and what is
// supported. Layer names come from the node names, as the source framework named its modules
// ("/layer1/layer1.0/conv1/Conv" → "layer1.0.conv1"), so --freeze and warm starts can name them.
#pragma once

#include <optional>
#include <string>

#include "nn/model/model.hpp"
#include "nn/task.hpp"

namespace kiln::io {

// The per-channel affine a graph applies to its input before any layer (Sub/Div of a mean and a
// std, Mul/Add of a rescaling): the network computes on scale · x + shift, in kiln's (RGB)
// channel order. kiln keeps it as the model's stored normalization, not as layers.
struct OnnxInputAffine {
  std::vector<float> scale, shift;  // C each
};

struct OnnxImportOptions {
  std::optional<nn::Shape> input{};  // (C, H, W); default: the graph input's static dims
  // The network takes BGR input (Caffe's convention): the channel axis of the weights of every
  // layer reading the input is reversed, so the model takes kiln's RGB images.
  bool bgr_input = false;
  // Where the input affine of the graph's first Sub/Add/Mul/Div nodes goes (identity when there
  // are none); null: such nodes stop the import.
  OnnxInputAffine* input_affine = nullptr;
};

// Throws kiln::Error naming the file and, for an unsupported or malformed node, the node and its
// op type.
nn::Model import_onnx(const std::string& path, const OnnxImportOptions& options = {});

// What a network's outputs mean: the "task" metadata kiln's export writes (a multi-label
// model's final Sigmoid is then dropped on import, as a final Softmax always is), else
// classification.
nn::Task onnx_task(const std::string& path);

// Every op type import_onnx reads, for messages and help.
const char* onnx_import_ops();

}  // namespace kiln::io
