// profile_layers' cost model against figures worked out by hand, and the machine limits it is
// judged against.
#include <gtest/gtest.h>

#include <cmath>

#include "nn/kernels/machine_limits.hpp"
#include "nn/model/model.hpp"
#include "nn/training/layer_profile.hpp"

namespace kiln::nn {
namespace {

TEST(LayerProfile, CountsEachLayersWorkAndTrafficAsTheHeaderDefines) {
  // conv (1→4, 3×3 valid on 6×6: 4×4 out) → relu (absorbed) → flatten → dense (64 → 3).
  Model model = Model::from_config({{"input", {1, 6, 6}},
                                    {"layers",
                                     {{{"type", "conv2d"}, {"filters", 4}, {"kernel_size", 3}},
                                      {{"type", "relu"}},
                                      {{"type", "flatten"}},
                                      {{"type", "dense"}, {"units", 3}}}}});
  model.initialize(1);
  const auto optimizer = make_optimizer({{"type", "sgd"}});
  const LayerProfile p = profile_layers(model, *optimizer, 5, 1, 1, 3);

  ASSERT_EQ(p.layers.size(), 3u);  // the ReLU is the convolution's, and timed with it
  EXPECT_EQ(p.layers[0].type, "conv2d");
  EXPECT_EQ(p.layers[1].type, "flatten");
  EXPECT_EQ(p.layers[2].type, "dense");
  for (const LayerCost& c : p.layers) {
    EXPECT_GT(c.forward_seconds, 0) << c.name;
    EXPECT_GT(c.backward_seconds, 0) << c.name;
  }
  EXPECT_GT(p.step_seconds, 0);

  const LayerCost& conv = p.layers[0];
  const double conv_macs = 4 * 4 * 4 * 9;  // per sample: 16 pixels × 4 filters × 9 taps
  EXPECT_DOUBLE_EQ(conv.forward_flops, 2 * conv_macs * 5);
  EXPECT_DOUBLE_EQ(conv.backward_flops, 2 * conv_macs * 5);  // reads the model input: no dx
  // forward: x 36 + y 64 floats per sample, weights 36 + bias 4, once.
  EXPECT_DOUBLE_EQ(conv.forward_bytes, 4.0 * ((36 + 64) * 5 + 40));
  // backward: x, y and dy per sample (no dx), parameters read and gradients read and written.
  EXPECT_DOUBLE_EQ(conv.backward_bytes, 4.0 * ((36 + 2 * 64) * 5 + 3 * 40));

  const LayerCost& dense = p.layers[2];
  EXPECT_DOUBLE_EQ(dense.forward_flops, 2.0 * 64 * 3 * 5);
  EXPECT_DOUBLE_EQ(dense.backward_flops, 4.0 * 64 * 3 * 5);  // dW and dx
  EXPECT_DOUBLE_EQ(dense.backward_bytes, 4.0 * ((2 * 64 + 2 * 3) * 5 + 3 * (192 + 3)));
  EXPECT_EQ(p.layers[1].forward_flops, 0);  // element-wise: traffic only
}

TEST(LayerProfile, TimingStopsWithTheProfile) {
  Model model =
      Model::from_config({{"input", {1, 4, 4}},
                          {"layers", {{{"type", "flatten"}}, {{"type", "dense"}, {"units", 2}}}}});
  model.initialize(1);
  LayerTimes times;
  model.time_layers(&times);
  Tensor x({2, 1, 4, 4}, 0.5f);
  model.forward(x, {});
  model.time_layers(nullptr);
  const double after_one = times.forward_seconds[1];
  EXPECT_GT(after_one, 0);
  model.forward(x, {});
  EXPECT_EQ(times.forward_seconds[1], after_one);
}

TEST(MachineLimits, MeasuresAPeakAndABandwidthAMachineCanHave) {
  const MachineLimits m = measure_machine_limits(1, 0.02);
  // Any CPU kiln builds for retires more than 1 GFLOP/s and reads more than 0.5 GB/s, and none
  // yet does 100 TFLOP/s or 10 TB/s on one thread.
  EXPECT_GT(m.fma_gflops, 1);
  EXPECT_LT(m.fma_gflops, 1e5);
  EXPECT_GT(m.memory_gbytes, 0.5);
  EXPECT_LT(m.memory_gbytes, 1e4);
  EXPECT_NEAR(m.balance(), m.fma_gflops / m.memory_gbytes, 1e-12);
}

}  // namespace
}  // namespace kiln::nn
