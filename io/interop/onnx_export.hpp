// export_onnx: a kiln model file as an ONNX model (opset 13), built with the ONNX library's
// protobuf classes and checked with onnx::checker before it is written (atomically).
//
// The graph takes the model's input as float pixels on the 0..255 scale, (N, C, H, W), and
// applies the stored normalization itself (channel or mean image); with include_preprocessing it
// takes uint8 (N, H, W, C) pixels instead (a Cast and a Transpose first). It outputs the class
// probabilities (a Softmax on the logits, as `kiln predict` reports). What cannot be a graph —
// sizing images as the training data was stored, the eval crop — is described in the metadata:
// class_names, input ("C,H,W"), channel_order, pixel_scale, normalization and eval_stages (JSON).
//
// clang-format off
//   dense          Flatten (for 4-D input) + Gemm(transB = 1)
//   conv2d         Conv (both algorithms: the same graph), pads from the padding mode
//   max/avg_pool2d MaxPool / AveragePool (count_include_pad = 0, as kiln's)
//   global_avg     GlobalAveragePool        flatten  Flatten(axis = 1)
//   batch_norm     BatchNormalization (running statistics)
//   lrn            LRN with alpha · size (ONNX divides alpha by size; kiln uses the paper's form)
//   activations    Relu, LeakyRelu, Sigmoid, Tanh, Softmax(axis = 1)      dropout  nothing
// clang-format on
#pragma once

#include <string>

#include "io/model_file.hpp"

namespace kiln::io {

struct OnnxExportOptions {
  bool include_preprocessing = false;  // take uint8 NHWC pixels
};

// Throws kiln::Error naming the layer or normalization mode ONNX export cannot express, or what
// the ONNX checker rejected.
void export_onnx(ModelBundle& bundle, const std::string& output_path,
                 const OnnxExportOptions& options = {});

}  // namespace kiln::io
