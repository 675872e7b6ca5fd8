#include <gtest/gtest.h>

#include "nn/error.hpp"
#include "pipeline/pack.hpp"
#include "pipeline/transforms/flip.hpp"
#include "pipeline/transforms/registry.hpp"

namespace kiln::pipeline {
namespace {

cv::Mat ramp(int h, int w, int channels) {
  cv::Mat m(h, w, CV_8UC(channels));
  for (int i = 0; i < h * w * channels; ++i) m.data[i] = static_cast<std::uint8_t>(i);
  return m;
}

TEST(HorizontalFlip, AppliesAHandPickedDraw) {
  cv::Mat image = ramp(2, 3, 1);  // rows [0 1 2] [3 4 5]
  HorizontalFlip flip(0.5f);
  flip.apply({true}, image);
  const std::uint8_t expected[] = {2, 1, 0, 5, 4, 3};
  EXPECT_TRUE(std::equal(std::begin(expected), std::end(expected), image.data));
  cv::Mat same = ramp(2, 3, 1);
  flip.apply({false}, same);
  EXPECT_EQ(cv::norm(same, ramp(2, 3, 1), cv::NORM_INF), 0.0);
}

TEST(HorizontalFlip, KeepsPixelsWholeInColourImages) {
  cv::Mat image = ramp(1, 2, 3);  // pixels (0,1,2) (3,4,5)
  HorizontalFlip(1.f).apply({true}, image);
  const std::uint8_t expected[] = {3, 4, 5, 0, 1, 2};
  EXPECT_TRUE(std::equal(std::begin(expected), std::end(expected), image.data));
}

TEST(HorizontalFlip, DrawsAreKeyedAndFollowTheProbability) {
  const auto stage = make_stage("horizontal_flip", {{"p", 0.3}});
  int flips = 0;
  for (std::uint64_t index = 0; index < 2000; ++index) {
    cv::Mat a = ramp(1, 2, 1), b = ramp(1, 2, 1);
    stage->run(a, nn::Mode::kTrain, {1, 0, index, 1});
    stage->run(b, nn::Mode::kTrain, {1, 0, index, 1});
    ASSERT_EQ(a.data[0], b.data[0]) << "same key, different result at index " << index;
    flips += a.data[0] == 1;
  }
  EXPECT_NEAR(flips / 2000.0, 0.3, 0.04);
}

TEST(HorizontalFlip, EvalNeverFlips) {
  const auto stage = make_stage("horizontal_flip", {{"p", 1.0}});
  cv::Mat image = ramp(2, 2, 1);
  stage->run(image, nn::Mode::kEval, {1, 0, 0, 1});
  EXPECT_EQ(cv::norm(image, ramp(2, 2, 1), cv::NORM_INF), 0.0);
}

TEST(StageRegistry, RoundTripsConfigsAndRejectsMistakes) {
  const Json config = Json::array({{{"type", "horizontal_flip"}, {"p", 0.25}}});
  EXPECT_EQ(stages_config(make_stages(config)), config);
  EXPECT_THROW(make_stage("horizontal_flip", {{"prob", 0.5}}), Error);
  EXPECT_THROW(make_stage("horizontal_flip", {{"p", 1.5}}), Error);
  EXPECT_THROW(make_stage("rotate_everything", Json::object()), Error);
}

TEST(Pack, NormalizesAndTransposesToCHW) {
  cv::Mat image(1, 2, CV_8UC3);
  const std::uint8_t pixels[] = {10, 20, 30, 40, 50, 60};  // (H=1, W=2, C=3)
  std::copy(std::begin(pixels), std::end(pixels), image.data);
  Normalization norm{"RGB", {10.f, 20.f, 30.f}, {2.f, 4.f, 10.f}};
  std::vector<float> out(6);
  pack_image(image, norm, out);
  // channel-major: R plane, G plane, B plane
  const float expected[] = {0.f, 15.f, 0.f, 7.5f, 0.f, 3.f};
  // x·(1/s) − m/s differs from (x − m)/s by rounding (and FMA contraction): 1e-5 tolerance.
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(out[static_cast<std::size_t>(i)], expected[i], 1e-5) << i;
}

TEST(Normalization, RoundTripsAndChecksChannels) {
  Normalization norm{"L", {72.9f}, {90.0f}};
  const Normalization back = Normalization::from_json(norm.to_json());
  EXPECT_EQ(back.mean, norm.mean);
  EXPECT_EQ(back.std, norm.std);
  EXPECT_NO_THROW(norm.check_compatible(1, "L", "data.h5"));
  EXPECT_THROW(norm.check_compatible(3, "RGB", "data.h5"), Error);
  EXPECT_THROW(Normalization::from_json({{"mean", {1}}}), Error);
}

}  // namespace
}  // namespace kiln::pipeline
