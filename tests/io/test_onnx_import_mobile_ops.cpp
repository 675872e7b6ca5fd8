// The ops of MobileNet, EfficientNet, RegNet, ResNeXt, DenseNet and Inception graphs, imported and
// run against OpenCV's dnn on the same file: grouped, depthwise and dilated Conv, Clip as ReLU6,
// HardSigmoid, x · HardSigmoid(x), x · Sigmoid(x), a squeeze-and-excitation gate (ReduceMean or
// GlobalAveragePool → Conv → Mul by a (C, 1, 1) value), and a Pad of zeros before an average pool.
#include <gtest/gtest.h>

#include <cmath>

#include "nn/error.hpp"
#include "tests/support/onnx_graph.hpp"
#include "tests/support/temp_dir.hpp"

namespace kiln::io {
namespace {

using G = OnnxGraph;

TEST(OnnxImportMobileOps, GroupedDilatedAndGatedGraphsMatchOpenCv) {
  testing::TempDir dir;
  OnnxGraph g({2, 4, 10, 10});
  // Grouped 3x3 (2 groups) with dilation 2 and padding 2: (6, 10, 10), then ReLU6 as Clip(0, 6)
  auto& grouped = g.node("Conv", {"x", g.weight("w1", {6, 2, 3, 3}), g.weight("b1", {6})}, "c1");
  G::ints(grouped, "kernel_shape", {3, 3});
  G::ints(grouped, "dilations", {2, 2});
  G::ints(grouped, "pads", {2, 2, 2, 2});
  G::integer(grouped, "group", 2);
  // (the bounds as attributes, as before opset 11: OpenCV 4.6 reads no other form; PyTorch's
  // inputs form is checked on torchvision's MobileNet v2)
  auto& clip = g.node("Clip", {"c1"}, "r6");
  G::real(clip, "min", 0.f);
  G::real(clip, "max", 6.f);
  // Depthwise 3x3 stride 2: (6, 5, 5), then x · Sigmoid(x) (SiLU, as PyTorch writes it)
  auto& depthwise = g.node("Conv", {"r6", g.weight("w2", {6, 1, 3, 3})}, "dw");
  G::ints(depthwise, "kernel_shape", {3, 3});
  G::ints(depthwise, "strides", {2, 2});
  G::ints(depthwise, "pads", {1, 1, 1, 1});
  G::integer(depthwise, "group", 6);
  g.node("Sigmoid", {"dw"}, "sig");
  g.node("Mul", {"dw", "sig"}, "silu");
  // Squeeze-and-excitation: mean over H, W → 1x1 conv → HardSigmoid → Mul by the (6, 1, 1) gate
  G::ints(g.node("ReduceMean", {"silu"}, "squeeze"), "axes", {2, 3});
  G::ints(g.node("Conv", {"squeeze", g.weight("w3", {6, 6, 1, 1}), g.weight("b3", {6})}, "fc"),
          "kernel_shape", {1, 1});
  auto& gate = g.node("HardSigmoid", {"fc"}, "gate");
  G::real(gate, "alpha", 0.2f);
  G::real(gate, "beta", 0.5f);
  g.node("Mul", {"gate", "silu"}, "excited");
  // x · HardSigmoid(x) with PyTorch's 1/6 and 0.5: HardSwish
  auto& hs = g.node("HardSigmoid", {"excited"}, "hsig");
  G::real(hs, "alpha", 1.f / 6.f);
  G::real(hs, "beta", 0.5f);
  g.node("Mul", {"excited", "hsig"}, "hswish");
  // A Pad of one pixel and an unpadded 3x3 average: the zeros count (count_include_pad)
  g.node("Pad", {"hswish", g.shape("pads", {0, 0, 1, 1, 0, 0, 1, 1})}, "padded");
  auto& avg = g.node("AveragePool", {"padded"}, "avg");
  G::ints(avg, "kernel_shape", {3, 3});
  G::ints(avg, "strides", {2, 2});
  g.node("GlobalAveragePool", {"avg"}, "gap");
  g.node("Flatten", {"gap"}, "flat");
  g.node("MatMul", {"flat", g.weight("w4", {6, 5})}, "logits");
  g.node("Softmax", {"logits"}, "prob");
  const std::string path = g.save(dir.file("mobile.onnx"), "prob");
  expect_opencv_agrees(path, {2, 4, 10, 10});

  // The patterns became kiln's own layers: no sigmoid or hard_sigmoid is left behind them.
  nn::Model model = import_onnx(path);
  std::vector<std::string> types;
  for (std::size_t i = 0; i < model.size(); ++i) types.emplace_back(model.layer(i).type());
  const std::vector<std::string> expected = {"conv2d",
                                             "relu6",
                                             "conv2d",
                                             "silu",
                                             "global_avg_pool2d",
                                             "conv2d",
                                             "hard_sigmoid",
                                             "multiply",
                                             "hard_swish",
                                             "zero_pad2d",
                                             "avg_pool2d",
                                             "global_avg_pool2d",
                                             "flatten",
                                             "dense"};
  EXPECT_EQ(types, expected);
}

// ConvNeXt's block as PyTorch writes it below opset 17: a depthwise conv, a Transpose to
// channels-last, LayerNorm as nine nodes, Linear layers as MatMul + Add, GELU as five nodes, the
// Transpose back, the layer scale as a Mul by a (C, 1, 1) constant, the residual Add.
TEST(OnnxImportMobileOps, ConvNextBlockReadsAsKilnLayers) {
  testing::TempDir dir;
  OnnxGraph g({1, 4, 3, 3});
  auto& dw = g.node("Conv", {"x", g.weight("dw_w", {4, 1, 3, 3}), g.weight("dw_b", {4})}, "dw");
  G::ints(dw, "kernel_shape", {3, 3});
  G::ints(dw, "pads", {1, 1, 1, 1});
  G::integer(dw, "group", 4);
  G::ints(g.node("Transpose", {"dw"}, "nhwc"), "perm", {0, 2, 3, 1});
  G::ints(g.node("ReduceMean", {"nhwc"}, "mean"), "axes", {-1});
  g.node("Sub", {"nhwc", "mean"}, "centred");
  g.node("Pow", {"centred", g.weight("two", {}, 2.f, 2.f)}, "squared");
  G::ints(g.node("ReduceMean", {"squared"}, "variance"), "axes", {-1});
  g.node("Add", {"variance", g.weight("eps", {}, 1e-6f, 1e-6f)}, "shifted");
  g.node("Sqrt", {"shifted"}, "deviation");
  g.node("Div", {"centred", "deviation"}, "normalized");
  g.node("Mul", {"normalized", g.weight("gamma", {4})}, "scaled");
  g.node("Add", {"scaled", g.weight("beta", {4})}, "ln");
  g.node("MatMul", {"ln", g.weight("fc1", {4, 8})}, "up");
  g.node("Add", {g.weight("fc1_b", {8}), "up"}, "up_b");
  g.node("Div", {"up_b", g.weight("sqrt2", {}, std::sqrt(2.f), std::sqrt(2.f))}, "g1");
  g.node("Erf", {"g1"}, "g2");
  g.node("Add", {"g2", g.weight("one", {}, 1.f, 1.f)}, "g3");
  g.node("Mul", {"up_b", "g3"}, "g4");
  g.node("Mul", {"g4", g.weight("half", {}, 0.5f, 0.5f)}, "gelu");
  g.node("MatMul", {"gelu", g.weight("fc2", {8, 4})}, "down");
  g.node("Add", {g.weight("fc2_b", {4}), "down"}, "down_b");
  G::ints(g.node("Transpose", {"down_b"}, "nchw"), "perm", {0, 3, 1, 2});
  g.node("Mul", {"nchw", g.weight("layer_scale", {4, 1, 1})}, "scaled_block");
  g.node("Add", {"scaled_block", "x"}, "residual");
  const std::string path = g.save(dir.file("convnext.onnx"), "residual");

  nn::Model model = import_onnx(path);
  std::vector<std::string> types;
  for (std::size_t i = 0; i < model.size(); ++i) types.emplace_back(model.layer(i).type());
  EXPECT_EQ(types,
            (std::vector<std::string>{"conv2d", "layer_norm", "conv2d", "gelu", "conv2d", "add"}));
  // MatMul's (C, F) weight as a 1x1 conv's (F, C), the layer scale folded into it and its bias.
  const std::vector<float> fc2 = g.values("fc2"), scale = g.values("layer_scale");
  const std::vector<float> bias = g.values("fc2_b");
  nn::Layer& down = model.layer(4);
  const nn::Tensor& w = down.parameters()[0]->value;
  const nn::Tensor& b = down.parameters()[1]->value;
  ASSERT_EQ(w.shape(), (nn::Shape{4, 8, 1, 1}));
  for (std::int64_t f = 0; f < 4; ++f) {
    EXPECT_FLOAT_EQ(b[f], bias[f] * scale[f]);
    for (std::int64_t c = 0; c < 8; ++c)
      EXPECT_FLOAT_EQ(w[f * 8 + c], fc2[c * 4 + f] * scale[f]) << f << ", " << c;
  }
  const nn::Tensor& gamma = model.layer(1).parameters()[0]->value;
  EXPECT_FLOAT_EQ(gamma[2], g.values("gamma")[2]);
}

// Opset 17's LayerNormalization op reads as the nine nodes before it do (those checked against
// PyTorch on ConvNeXt): one layer_norm, the same outputs.
TEST(OnnxImportMobileOps, LayerNormalizationOpMatchesItsDecomposition) {
  testing::TempDir dir;
  const auto graph = [&](bool op, const std::string& file) {
    OnnxGraph g({2, 4, 3, 3});
    G::ints(g.node("Conv", {"x", g.weight("w", {4, 4, 1, 1})}, "c"), "kernel_shape", {1, 1});
    G::ints(g.node("Transpose", {"c"}, "nhwc"), "perm", {0, 2, 3, 1});
    const std::string gamma = g.weight("gamma", {4}), beta = g.weight("beta", {4});
    if (op) {
      G::real(g.node("LayerNormalization", {"nhwc", gamma, beta}, "ln"), "epsilon", 1e-3f);
    } else {
      G::ints(g.node("ReduceMean", {"nhwc"}, "mean"), "axes", {-1});
      g.node("Sub", {"nhwc", "mean"}, "centred");
      g.node("Pow", {"centred", g.weight("two", {}, 2.f, 2.f)}, "squared");
      G::ints(g.node("ReduceMean", {"squared"}, "variance"), "axes", {-1});
      g.node("Add", {"variance", g.weight("eps", {}, 1e-3f, 1e-3f)}, "shifted");
      g.node("Sqrt", {"shifted"}, "deviation");
      g.node("Div", {"centred", "deviation"}, "normalized");
      g.node("Mul", {"normalized", gamma}, "scaled");
      g.node("Add", {"scaled", beta}, "ln");
    }
    G::ints(g.node("Transpose", {"ln"}, "nchw"), "perm", {0, 3, 1, 2});
    g.node("Flatten", {"nchw"}, "flat");
    return import_onnx(g.save(dir.file(file), "flat"));
  };
  nn::Model op = graph(true, "op.onnx"), nodes = graph(false, "nodes.onnx");
  EXPECT_EQ(op.layer(1).type(), "layer_norm");
  nn::Tensor x({2, 4, 3, 3});
  nn::Rng rng({4, 4, 4, 4});
  for (float& v : x.span()) v = rng.uniform(-2.f, 2.f);
  const nn::Tensor a = op.forward(x, {});
  const nn::Tensor& b = nodes.forward(x, {});
  ASSERT_EQ(a.size(), b.size());
  for (std::int64_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << i;
}

}  // namespace
}  // namespace kiln::io
