// multiply (element-wise, with (C, 1, 1) inputs broadcast: squeeze-and-excitation's gate) and
// stochastic_depth (whole samples dropped in training, the identity in evaluation).
#include <gtest/gtest.h>

#include <cmath>

#include "nn/error.hpp"
#include "nn/layers/dropout.hpp"
#include "nn/layers/merge.hpp"
#include "nn/random.hpp"
#include "tests/support/gradient_check.hpp"

namespace kiln::nn {
namespace {

using testing::fill_uniform;

// dL/dx_k of L = Σ y ⊙ dy, by central differences on every element of input k.
void expect_join_gradient(Multiply& layer, std::vector<Tensor>& xs, std::size_t k) {
  std::vector<const Tensor*> inputs;
  for (const Tensor& x : xs) inputs.push_back(&x);
  Tensor y, dx;
  layer.forward_join(inputs, y);
  Tensor dy(y.shape());
  fill_uniform(dy, 21, -1.f, 1.f);
  layer.backward_join(k, inputs, y, dy, dx);
  ASSERT_EQ(dx.shape(), xs[k].shape());
  const float eps = 1e-2f;
  for (std::int64_t e = 0; e < xs[k].size(); ++e) {
    const float keep = xs[k][e];
    xs[k][e] = keep + eps;
    layer.forward_join(inputs, y);
    const double plus = testing::dot_with(y, dy);
    xs[k][e] = keep - eps;
    layer.forward_join(inputs, y);
    const double minus = testing::dot_with(y, dy);
    xs[k][e] = keep;
    EXPECT_NEAR(dx[e], (plus - minus) / (2 * eps), 1e-3) << "input " << k << " element " << e;
  }
}

TEST(Multiply, BroadcastsAPerChannelGateOverThePlane) {
  Multiply multiply;
  const Shape shapes[] = {{1, 2, 2, 3}, {1, 2, 1, 1}};
  EXPECT_EQ(multiply.build_join(shapes), (Shape{1, 2, 2, 3}));
  Tensor features({2, 2, 2, 3}), gate({2, 2, 1, 1}), y;
  for (std::int64_t e = 0; e < features.size(); ++e) features[e] = static_cast<float>(e);
  gate[0] = 0.5f, gate[1] = 2.f, gate[2] = -1.f, gate[3] = 0.f;
  const Tensor* inputs[] = {&gate, &features};  // the gate may come first
  multiply.forward_join(inputs, y);
  ASSERT_EQ(y.shape(), features.shape());
  for (std::int64_t e = 0; e < y.size(); ++e) EXPECT_FLOAT_EQ(y[e], features[e] * gate[e / 6]) << e;
}

TEST(Multiply, GradientsMatchFiniteDifferences) {
  Multiply multiply;
  std::vector<Tensor> xs{Tensor({3, 2, 3, 2}), Tensor({3, 2, 1, 1}), Tensor({3, 2, 3, 2})};
  for (std::size_t k = 0; k < xs.size(); ++k) fill_uniform(xs[k], 30 + k, -1.f, 1.f);
  for (std::size_t k = 0; k < xs.size(); ++k) expect_join_gradient(multiply, xs, k);
}

TEST(Multiply, RefusesShapesThatDoNotBroadcast) {
  Multiply multiply;
  const Shape channels[] = {{1, 2, 3, 3}, {1, 3, 1, 1}};
  EXPECT_THROW(multiply.build_join(channels), Error);
  const Shape planes[] = {{1, 2, 3, 3}, {1, 2, 3, 1}};
  EXPECT_THROW(multiply.build_join(planes), Error);
}

TEST(StochasticDepth, DropsWholeSamplesInTrainingOnly) {
  StochasticDepth drop(0.5f);
  drop.build({1, 3, 2, 2});
  Tensor x({64, 3, 2, 2}, 1.f), y;
  drop.forward(x, y, {Mode::kEval, 1, 0, {}, 4});
  for (float v : y.span()) ASSERT_EQ(v, 1.f);
  std::vector<std::uint64_t> rows(64);
  for (std::size_t r = 0; r < rows.size(); ++r) rows[r] = 100 + r;
  drop.forward(x, y, {Mode::kTrain, 9, 2, rows, 4});
  int dropped = 0;
  for (std::int64_t r = 0; r < 64; ++r) {
    const float first = y[r * 12];
    for (std::int64_t e = 0; e < 12; ++e) ASSERT_EQ(y[r * 12 + e], first) << "sample " << r;
    // The keyed draw decides: (run seed, epoch, sample, layer).
    Rng rng({9, 2, 100 + static_cast<std::uint64_t>(r), kSlotLayerBase + 4});
    EXPECT_EQ(first, rng.uniform() < 0.5f ? 0.f : 2.f) << "sample " << r;
    dropped += first == 0.f;
  }
  EXPECT_GT(dropped, 16);
  EXPECT_LT(dropped, 48);
  EXPECT_THROW(StochasticDepth(1.f), Error);
}

TEST(StochasticDepth, GradientsMatchFiniteDifferences) {
  StochasticDepth drop(0.4f);
  testing::expect_gradients_match(drop, {6, 2, 2, 2});
}

}  // namespace
}  // namespace kiln::nn
