// channel_shuffle against ShuffleNet's reshape (N, g, C/g, H, W) → transpose(1, 2) → reshape,
// written out by hand for 6 channels in 2 and 3 groups; channel_slice's window and gradient.
#include <gtest/gtest.h>

#include "nn/error.hpp"
#include "nn/layers/channel_ops.hpp"
#include "tests/support/gradient_check.hpp"

namespace kiln::nn {
namespace {

// Each channel's plane holds its own index, so the output lists which input channel it read.
std::vector<float> channel_order(Layer& layer, std::int64_t channels) {
  Tensor x({1, channels, 1, 2}), y;
  for (std::int64_t e = 0; e < x.size(); ++e) x[e] = static_cast<float>(e / 2);
  layer.build(x.shape());
  layer.forward(x, y, {});
  std::vector<float> order;
  for (std::int64_t c = 0; c < y.shape().c; ++c) order.push_back(y[c * 2]);
  return order;
}

TEST(ChannelShuffle, InterleavesTheGroups) {
  ChannelShuffle two(2), three(3);
  // (2, 3) transposed to (3, 2): 0 3 1 4 2 5
  EXPECT_EQ(channel_order(two, 6), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  // (3, 2) transposed to (2, 3): 0 2 4 1 3 5
  EXPECT_EQ(channel_order(three, 6), (std::vector<float>{0, 2, 4, 1, 3, 5}));
  testing::expect_gradients_match(three, {2, 6, 2, 3});
  EXPECT_THROW(ChannelShuffle(4).build({1, 6, 2, 2}), Error);
}

TEST(ChannelSlice, TakesAWindowOfChannels) {
  ChannelSlice middle(1, 4), tail(3, 1000);  // an end past C is clamped, as ONNX's Slice
  EXPECT_EQ(channel_order(middle, 6), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(channel_order(tail, 6), (std::vector<float>{3, 4, 5}));
  testing::expect_gradients_match(middle, {2, 6, 2, 3});
  EXPECT_THROW(ChannelSlice(2, 2), Error);
  EXPECT_THROW(ChannelSlice(6, 8).build({1, 6, 2, 2}), Error);
}

}  // namespace
}  // namespace kiln::nn
