// Mixup and CutMix against what they promise: the pixels and the targets tell the same λ, the
// label weight of CutMix is the pasted area exactly, λ follows Beta(α, α), and the draws are
// keyed by the sample, so the mixed batch does not depend on anything but the micro-batch.
#include <gtest/gtest.h>

#include <cmath>

#include "nn/error.hpp"
#include "pipeline/batch_mixing.hpp"

namespace kiln::pipeline {
namespace {

// n rows of C×H×W; row r is the constant r + 1 in every pixel, its label r % classes.
nn::Batch constant_rows(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w,
                        std::int32_t classes) {
  nn::Batch batch;
  batch.inputs = nn::Tensor({n, c, h, w});
  for (std::int64_t r = 0; r < n; ++r) {
    for (std::int64_t e = 0; e < c * h * w; ++e)
      batch.inputs[r * c * h * w + e] = static_cast<float>(r + 1);
    batch.labels.push_back(static_cast<std::int32_t>(r) % classes);
    batch.indices.push_back(static_cast<std::uint64_t>(100 + 7 * r));
  }
  return batch;
}

TEST(Mixup, PixelsAndTargetsCarryTheSameLambda) {
  nn::Batch batch = constant_rows(6, 2, 3, 3, 6);
  BatchMixing::from_json({{"type", "mixup"}, {"alpha", 0.4}}).apply(batch, 9, 2, 6);
  ASSERT_EQ(batch.targets.shape(), (nn::Shape{6, 6, 1, 1}));
  for (std::int64_t i = 0; i < 6; ++i) {
    const std::int64_t j = 5 - i;  // the mirror row
    const double lambda = batch.targets[i * 6 + i];
    EXPECT_NEAR(batch.targets[i * 6 + j], 1 - lambda, 1e-6);
    const double pixel = lambda * static_cast<double>(i + 1) + (1 - lambda) * (j + 1);
    for (std::int64_t e = 0; e < 18; ++e) EXPECT_NEAR(batch.inputs[i * 18 + e], pixel, 1e-5);
    EXPECT_EQ(batch.labels[static_cast<std::size_t>(i)], i);  // labels keep the row's own class
  }
}

TEST(CutMix, TheLabelWeightIsThePastedAreaExactly) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    nn::Batch batch = constant_rows(4, 3, 7, 9, 4);
    BatchMixing::from_json({{"type", "cutmix"}, {"alpha", 1.0}}).apply(batch, seed, 0, 4);
    for (std::int64_t i = 0; i < 4; ++i) {
      const std::int64_t j = 3 - i;
      std::int64_t pasted = 0;
      for (std::int64_t e = 0; e < 7 * 9; ++e) {
        const float v = batch.inputs[i * 3 * 63 + e];
        ASSERT_TRUE(v == i + 1 || v == j + 1);
        pasted += v == j + 1;
        // The same box in every channel.
        EXPECT_EQ(batch.inputs[i * 3 * 63 + 2 * 63 + e], v);
      }
      EXPECT_FLOAT_EQ(batch.targets[i * 4 + j], static_cast<float>(pasted) / 63) << seed;
      EXPECT_FLOAT_EQ(batch.targets[i * 4 + i], 1 - static_cast<float>(pasted) / 63) << seed;
    }
  }
}

TEST(BatchMixing, LambdaFollowsTheBetaDistribution) {
  // Beta(α, α): mean 1/2, variance 1 / (4(2α + 1)). 20,000 keyed draws, fixed seed.
  for (const double alpha : {0.2, 1.0, 4.0}) {
    double sum = 0, squares = 0;
    constexpr int kDraws = 20000;
    for (int k = 0; k < kDraws; ++k) {
      nn::Rng rng({5, 0, static_cast<std::uint64_t>(k), nn::kSlotBatchMix});
      const double lambda = draw_beta(rng, alpha);
      ASSERT_GE(lambda, 0.0);
      ASSERT_LE(lambda, 1.0);
      sum += lambda;
      squares += lambda * lambda;
    }
    const double mean = sum / kDraws, variance = squares / kDraws - mean * mean;
    const double expected = 1 / (4 * (2 * alpha + 1));
    EXPECT_NEAR(mean, 0.5, 0.01) << alpha;
    EXPECT_NEAR(variance, expected, 0.05 * expected) << alpha;
  }
}

TEST(BatchMixing, DrawsAreKeyedBySampleNotByPosition) {
  // The same rows in the same micro-batch mix alike whatever came before; another epoch differs.
  const BatchMixing mix = BatchMixing::from_json(
      {{"type", "mixup_cutmix"}, {"mixup_alpha", 0.8}, {"cutmix_alpha", 1.0}, {"p", 0.8}});
  nn::Batch a = constant_rows(5, 1, 8, 8, 5), b = constant_rows(5, 1, 8, 8, 5);
  mix.apply(a, 3, 1, 5);
  mix.apply(b, 3, 1, 5);
  EXPECT_EQ(std::vector<float>(a.inputs.span().begin(), a.inputs.span().end()),
            std::vector<float>(b.inputs.span().begin(), b.inputs.span().end()));
  nn::Batch c = constant_rows(5, 1, 8, 8, 5);
  mix.apply(c, 3, 2, 5);
  EXPECT_NE(std::vector<float>(a.inputs.span().begin(), a.inputs.span().end()),
            std::vector<float>(c.inputs.span().begin(), c.inputs.span().end()));
  // Every target row sums to one.
  for (std::int64_t i = 0; i < 5; ++i) {
    double total = 0;
    for (std::int64_t k = 0; k < 5; ++k) total += a.targets[i * 5 + k];
    EXPECT_NEAR(total, 1.0, 1e-6);
  }
}

TEST(BatchMixing, ConfigMistakesNameTheStageAndOption) {
  EXPECT_THROW(BatchMixing::from_json({{"type", "mixup"}}), Error);  // alpha required
  EXPECT_THROW(BatchMixing::from_json({{"type", "cutmix"}, {"alpha", -1}}), Error);
  EXPECT_THROW(BatchMixing::from_json({{"type", "mixup"}, {"alpha", 1}, {"beta", 1}}), Error);
  EXPECT_THROW(BatchMixing::from_json({{"type", "mixup"}, {"alpha", 1}, {"p", 2}}), Error);
  const Json flip = {{"type", "horizontal_flip"}};
  const Json mixup = {{"type", "mixup"}, {"alpha", 0.2}};
  const auto [per_sample, batch] = split_batch_stage(Json{flip, mixup});
  EXPECT_EQ(per_sample, Json::array({flip}));
  EXPECT_EQ(batch, mixup);
  try {
    split_batch_stage(Json{mixup, flip});
    FAIL() << "a per-sample stage after mixup accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("last"), std::string::npos) << e.what();
  }
  EXPECT_THROW(split_batch_stage(Json{mixup, mixup}), Error);
}

}  // namespace
}  // namespace kiln::pipeline
