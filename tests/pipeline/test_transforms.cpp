#include <gtest/gtest.h>

#include <cmath>
#include <opencv2/imgproc.hpp>
#include <set>

#include "nn/error.hpp"
#include "pipeline/pack.hpp"
#include "pipeline/transforms/affine.hpp"
#include "pipeline/transforms/color_jitter.hpp"
#include "pipeline/transforms/flip.hpp"
#include "pipeline/transforms/lens.hpp"
#include "pipeline/transforms/pad_crop.hpp"
#include "pipeline/transforms/pca_lighting.hpp"
#include "pipeline/transforms/registry.hpp"
#include "pipeline/transforms/resized_crop.hpp"
#include "pipeline/transforms/scale_crop.hpp"
#include "tests/support/transform_contract.hpp"

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

// Every registered stage, with the example options its unit gives, keeps the stage contract.
TEST(StageContract, EveryRegisteredStage) {
  ASSERT_FALSE(stage_infos().empty());
  for (const StageInfo& info : stage_infos()) {
    SCOPED_TRACE(std::string(info.name));
    testing::expect_stage_contract(std::string(info.name), Json::parse(info.example));
  }
}

// With defaults only (no options): every stage that can be built so is a valid stage.
TEST(StageContract, EveryStageBuildsFromItsDefaultsOrSaysWhatItNeeds) {
  for (const std::string& name : stage_names()) {
    try {
      const auto stage = make_stage(name, Json::object());
      EXPECT_EQ(stage->name(), name);
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
}

TEST(RandomResizedCrop, EvalIsTheCentreSquareOfTheCropFraction) {
  const RandomResizedCrop crop(4, 0.08f, 1.f, 0.75f, 4.f / 3.f, 0.875f);
  // 100 x 80: side = round(0.875 · 80) = 70, at ((100 − 70) / 2, (80 − 70) / 2) = (15, 5).
  EXPECT_EQ(crop.eval({100, 80}).window, cv::Rect(15, 5, 70, 70));
  cv::Mat image(80, 100, CV_8UC3, cv::Scalar(1, 2, 3));
  crop.apply(crop.eval(image.size()), image);
  EXPECT_EQ(image.size(), cv::Size(4, 4));
}

TEST(RandomResizedCrop, WindowsRespectAreaAndRatioRanges) {
  const RandomResizedCrop crop(8, 0.25f, 0.5f, 0.5f, 2.f, 0.875f);
  for (std::uint64_t i = 0; i < 500; ++i) {
    nn::Rng rng({3, 0, i, 1});
    const cv::Rect w = crop.draw({200, 100}, rng).window;
    ASSERT_TRUE((w & cv::Rect(0, 0, 200, 100)) == w) << "window outside the image";
    const double area = static_cast<double>(w.area()) / (200 * 100);
    const double ratio = static_cast<double>(w.width) / w.height;
    ASSERT_GE(area, 0.24);
    ASSERT_LE(area, 0.51);
    ASSERT_GE(ratio, 0.48);
    ASSERT_LE(ratio, 2.05);
  }
  // No window with ratio >= 3 and area >= 0.5 fits a square: after 10 tries, the centre window
  // at the nearest allowed ratio (3): the full width, a third of the height.
  const RandomResizedCrop wide(8, 0.5f, 1.f, 3.f, 4.f, 0.875f);
  nn::Rng rng({1, 0, 0, 1});
  EXPECT_EQ(wide.draw({30, 30}, rng).window, cv::Rect(0, 10, 30, 10));
  EXPECT_THROW(RandomResizedCrop(8, 0.f, 1.f, 0.75f, 1.33f, 0.875f), Error);
}

TEST(ScaleCrop, CutsTheDrawnWindowAtTheDrawnScale) {
  // 8 wide, 4 high, value = 10·column + row.
  cv::Mat image(4, 8, CV_8UC1);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 8; ++x) image.at<uchar>(y, x) = static_cast<uchar>(10 * x + y);
  // Short side already 4: no resize; u = 0.99, v = 0 → window x in [6, 8), y in [0, 2).
  cv::Mat a = image.clone();
  ScaleCrop(2, 4, 4, 4).apply({4, 0.99f, 0.f}, a);
  ASSERT_EQ(a.size(), cv::Size(2, 2));
  EXPECT_EQ(a.at<uchar>(0, 0), 60);
  EXPECT_EQ(a.at<uchar>(1, 1), 71);
  // Eval: centre window, floor(0.5·(8 − 2 + 1)) = 3, floor(0.5·(4 − 2 + 1)) = 1.
  cv::Mat e = image.clone();
  const ScaleCrop eval_crop(2, 4, 4, 4);
  eval_crop.apply(eval_crop.eval(image.size()), e);
  EXPECT_EQ(e.at<uchar>(0, 0), 31);
  // Short side 2 (scale 1/2): the whole 4x2 image, then window u = 0 → the left half, averaged 2x2.
  cv::Mat half = image.clone();
  ScaleCrop(2, 2, 2, 2).apply({2, 0.f, 0.f}, half);
  ASSERT_EQ(half.size(), cv::Size(2, 2));
  EXPECT_NEAR(half.at<uchar>(0, 0), (0 + 10 + 1 + 11) / 4.0, 1.0);
  EXPECT_NEAR(half.at<uchar>(1, 1), (20 + 30 + 21 + 31) / 4.0 + 2, 1.5);
}

TEST(ScaleCrop, DrawsScalesAcrossTheRangeAndRejectsBadOptions) {
  std::set<int> sides;
  const ScaleCrop crop(8, 10, 13, 10);
  for (std::uint64_t i = 0; i < 400; ++i) {
    nn::Rng rng({2, 0, i, 1});
    sides.insert(crop.draw({20, 20}, rng).short_side);
  }
  EXPECT_EQ(sides, (std::set<int>{10, 11, 12, 13}));
  EXPECT_THROW(ScaleCrop(8, 6, 10, 8), Error);   // min below the crop
  EXPECT_THROW(ScaleCrop(8, 10, 9, 10), Error);  // max below min
  EXPECT_THROW(make_stage("scale_crop", {{"size", 4}, {"scale_range", 5}}), Error);
}

TEST(VerticalFlip, FlipsRows) {
  cv::Mat image = ramp(2, 3, 1);  // rows [0 1 2] [3 4 5]
  VerticalFlip(1.f).apply({true}, image);
  const std::uint8_t expected[] = {3, 4, 5, 0, 1, 2};
  EXPECT_TRUE(std::equal(std::begin(expected), std::end(expected), image.data));
}

TEST(PadCrop, ShiftsByTheDrawAndFillsTheGap) {
  cv::Mat image = ramp(3, 3, 1);             // [0 1 2] [3 4 5] [6 7 8]
  PadCrop(2, 9).apply({1, -1}, image);       // right by 1, up by 1
  const std::uint8_t expected[] = {9, 3, 4,  //
                                   9, 6, 7,  //
                                   9, 9, 9};
  EXPECT_TRUE(std::equal(std::begin(expected), std::end(expected), image.data));
  cv::Mat same = ramp(3, 3, 1);
  PadCrop(2, 0).apply(PadCrop(2, 0).eval({3, 3}), same);
  EXPECT_EQ(cv::norm(same, ramp(3, 3, 1), cv::NORM_INF), 0.0);  // eval: the identity
  // Shifts stay within [-padding, padding] and reach both ends.
  std::set<int> dxs;
  for (std::uint64_t i = 0; i < 500; ++i) {
    nn::Rng rng({1, 0, i, 1});
    const auto d = PadCrop(2, 0).draw({3, 3}, rng);
    ASSERT_LE(std::abs(d.dx), 2);
    ASSERT_LE(std::abs(d.dy), 2);
    dxs.insert(d.dx);
  }
  EXPECT_EQ(dxs, (std::set<int>{-2, -1, 0, 1, 2}));
}

TEST(ColorJitter, FollowsItsFormulas) {
  // Brightness only: v ← 0.5 v (rounded).
  cv::Mat image(1, 2, CV_8UC3);
  const std::uint8_t px[] = {100, 50, 201, 10, 20, 30};
  std::copy(std::begin(px), std::end(px), image.data);
  cv::Mat b = image.clone();
  ColorJitter().apply({0.5f, 1.f, 1.f}, b);
  const std::uint8_t half[] = {50, 25, 101, 5, 10, 15};  // 100.5 rounds to 101 (away from zero)
  EXPECT_TRUE(std::equal(std::begin(half), std::end(half), b.data));
  // Saturation 0: every pixel becomes its grey value 0.299 R + 0.587 G + 0.114 B.
  cv::Mat s = image.clone();
  ColorJitter().apply({1.f, 1.f, 0.f}, s);
  const auto g0 = static_cast<std::uint8_t>(std::lround(0.299 * 100 + 0.587 * 50 + 0.114 * 201));
  EXPECT_EQ(s.data[0], g0);
  EXPECT_EQ(s.data[1], g0);
  EXPECT_EQ(s.data[2], g0);
  // Contrast 0: every value becomes the mean grey of the image.
  cv::Mat c = image.clone();
  ColorJitter().apply({1.f, 0.f, 1.f}, c);
  const double grey1 = 0.299 * 10 + 0.587 * 20 + 0.114 * 30;
  const auto mean =
      static_cast<std::uint8_t>(std::lround((0.299 * 100 + 0.587 * 50 + 0.114 * 201 + grey1) / 2));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(c.data[i], mean) << i;
  // Clamped at 255.
  cv::Mat bright = image.clone();
  ColorJitter().apply({3.f, 1.f, 1.f}, bright);
  EXPECT_EQ(bright.data[2], 255);
  EXPECT_THROW(ColorJitter(1.5f, 0.f, 0.f), Error);
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

TEST(Pack, MeanImageAndZcaModesAgainstHandComputedValues) {
  cv::Mat image(1, 2, CV_8UC3);
  const std::uint8_t pixels[] = {10, 20, 30, 40, 50, 60};
  std::copy(std::begin(pixels), std::end(pixels), image.data);
  Normalization mean_image{
      "RGB", {0.f, 0.f, 0.f}, {2.f, 4.f, 10.f}, "mean_image", {0.f, 10.f, 20.f, 30.f, 40.f, 50.f}};
  std::vector<float> out(6);
  pack_image(image, mean_image, out);
  // (x − M) / s per value, then CHW: R (10/2, 10/2), G (10/4, 10/4), B (10/10, 10/10)
  const float expected[] = {5.f, 5.f, 2.5f, 2.5f, 1.f, 1.f};
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(out[static_cast<std::size_t>(i)], expected[i]) << i;

  // ZCA with W = 2·I: 2 · (x − M) / 255, in CHW order.
  Normalization zca = mean_image;
  zca.mode = "zca";
  zca.zca.assign(36, 0.f);
  for (int k = 0; k < 6; ++k) zca.zca[static_cast<std::size_t>(k * 6 + k)] = 2.f;
  pack_image(image, zca, out);
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(out[static_cast<std::size_t>(i)], 20.f / 255.f) << i;

  // Fitted on another size: refused, never read out of bounds.
  cv::Mat bigger(2, 2, CV_8UC3, cv::Scalar::all(1));
  std::vector<float> out4(12);
  EXPECT_THROW(pack_image(bigger, mean_image, out4), Error);
  // The arrays travel beside the JSON, and come back.
  const Normalization back = Normalization::from_json(zca.to_json(), zca.arrays());
  EXPECT_EQ(back.mode, "zca");
  EXPECT_EQ(back.mean_image, zca.mean_image);
  EXPECT_EQ(back.zca, zca.zca);
  EXPECT_THROW(Normalization::from_json(zca.to_json(), {}), Error);
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

TEST(Affine, QuarterTurnOfASquareImageIsExact) {
  const cv::Mat image = ramp(5, 5, 1);
  cv::Mat turned = image.clone();
  const Affine affine(90.f, 0, 0, 0, 1, 1, FillMode::kConstant, 0);
  affine.apply({.angle = 90.f}, turned);
  cv::Mat expected;
  // +90° with y pointing down maps (x, y) to (c − (y − c), c + (x − c)): OpenCV's clockwise turn.
  cv::rotate(image, expected, cv::ROTATE_90_CLOCKWISE);
  EXPECT_EQ(cv::norm(turned, expected, cv::NORM_INF), 0.0);
}

TEST(Affine, ShiftZoomAndFillModes) {
  const cv::Mat image = ramp(4, 6, 1);  // values 0..23, row-major
  const Affine constant(0, 0.5f, 0.5f, 0, 0.5f, 2.f, FillMode::kConstant, 7);
  cv::Mat shifted = image.clone();
  constant.apply({.tx = 2.f, .ty = 1.f}, shifted);
  EXPECT_EQ(shifted.at<std::uint8_t>(1, 2), image.at<std::uint8_t>(0, 0));  // moved by (2, 1)
  EXPECT_EQ(shifted.at<std::uint8_t>(3, 5), image.at<std::uint8_t>(2, 3));
  EXPECT_EQ(shifted.at<std::uint8_t>(0, 0), 7);  // came from outside: the fill value
  const Affine wrap(0, 0.5f, 0.5f, 0, 1, 1, FillMode::kWrap, 0);
  cv::Mat wrapped = image.clone();
  wrap.apply({.tx = 2.f}, wrapped);
  EXPECT_EQ(wrapped.at<std::uint8_t>(0, 0), image.at<std::uint8_t>(0, 4));  // wrapped around
  const Affine nearest(0, 0.5f, 0.5f, 0, 1, 1, FillMode::kNearest, 0);
  cv::Mat replicated = image.clone();
  nearest.apply({.tx = 2.f}, replicated);
  EXPECT_EQ(replicated.at<std::uint8_t>(2, 0), image.at<std::uint8_t>(2, 0));  // edge repeated
  // Zoom about the centre: zx = 2 maps source x to c + 2·(x − c); the centre stays.
  const cv::Matx23d m = Affine::matrix({.zx = 2.f, .zy = 1.f}, image.size());
  EXPECT_DOUBLE_EQ(m(0, 0) * 2.5 + m(0, 2), 2.5);
  EXPECT_DOUBLE_EQ(m(0, 0) * 3.5 + m(0, 2), 4.5);
  EXPECT_THROW(Affine(200.f, 0, 0, 0, 1, 1, FillMode::kConstant, 0), Error);
  EXPECT_THROW(Affine(0, 0, 0, 0, 1.5f, 1.f, FillMode::kConstant, 0), Error);
  EXPECT_THROW(parse_fill_mode("mirror", "affine"), Error);
}

TEST(LensDistortion, BarrelPullsInPincushionPushesOutCentreStays) {
  // A bright square ring far from the centre of a dark image.
  cv::Mat image(41, 41, CV_8UC1, cv::Scalar(0));
  cv::rectangle(image, {8, 8}, {32, 32}, cv::Scalar(255), 1);
  auto ring_row = [](const cv::Mat& m) {  // the first bright row from the top in column 20
    for (int y = 0; y < m.rows; ++y)
      if (m.at<std::uint8_t>(y, 20) > 127) return y;
    return -1;
  };
  const LensDistortion lens(-0.5f, 0.5f, 0, 0, FillMode::kConstant, 0);
  cv::Mat barrel = image.clone(), pincushion = image.clone();
  lens.apply({.k1 = 0.4f}, barrel);
  lens.apply({.k1 = -0.4f}, pincushion);
  EXPECT_GT(ring_row(barrel), 8);      // content pulled towards the centre
  EXPECT_LT(ring_row(pincushion), 8);  // pushed outwards
  EXPECT_EQ(barrel.at<std::uint8_t>(20, 20), image.at<std::uint8_t>(20, 20));
  EXPECT_THROW(LensDistortion(0.5f, -0.5f, 0, 0, FillMode::kConstant, 0), Error);
}

TEST(PcaLighting, MovesColourAlongTheComponentsByTheExpectedAmount) {
  PcaBasis basis;
  basis.stddev = {20.f, 10.f, 0.f};
  basis.vectors = {{{0.6f, 0.8f, 0.f}, {0.f, 0.f, 1.f}, {0.8f, -0.6f, 0.f}}};
  const PcaLighting lighting(0.1f, basis);
  cv::Mat image(2, 3, CV_8UC3, cv::Scalar(100, 100, 100));
  lighting.apply({.alpha = {0.5f, -1.f, 3.f}}, image);
  // Δ = 0.5·20·(0.6, 0.8, 0) − 1·10·(0, 0, 1) + 3·0·(...) = (6, 8, −10)
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x) EXPECT_EQ(image.at<cv::Vec3b>(y, x), cv::Vec3b(106, 108, 90));
  cv::Mat grey(2, 2, CV_8UC1, cv::Scalar(1));
  EXPECT_THROW(lighting.apply({.alpha = {1.f, 0.f, 0.f}}, grey), Error);
}

// Found by fuzz_augment: an eigenvector component of 1e39 made the colour shift infinite and its
// conversion to an integer undefined. Components of unit vectors lie in [-1, 1].
TEST(PcaLighting, RejectsEigenvectorsThatAreNotUnitVectors) {
  const Json stage = {{"type", "pca_lighting"},
                      {"eigenvalues", {10, 5, 1}},
                      {"eigenvectors", {{1e39, 0, 0}, {0, 1, 0}, {0, 0, 1}}}};
  try {
    make_stages(Json::array({stage}));
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("eigenvector components must be in [-1, 1]"),
              std::string::npos)
        << e.what();
  }
}

TEST(PcaLighting, BasisOfAKnownCovariance) {
  // cov = Q·diag(9, 4, 1)·Qᵀ with Q's columns (1,1,0)/√2, (1,−1,0)/√2, (0,0,1).
  const std::vector<double> cov = {6.5, 2.5, 0, 2.5, 6.5, 0, 0, 0, 1};
  const PcaBasis b = pca_basis(cov);
  EXPECT_NEAR(b.stddev[0], 3.f, 1e-5);
  EXPECT_NEAR(b.stddev[1], 2.f, 1e-5);
  EXPECT_NEAR(b.stddev[2], 1.f, 1e-5);
  EXPECT_NEAR(b.vectors[0][0], std::sqrt(0.5f), 1e-5);
  EXPECT_NEAR(b.vectors[0][1], std::sqrt(0.5f), 1e-5);
  EXPECT_NEAR(std::abs(b.vectors[1][0]), std::sqrt(0.5f), 1e-5);
  EXPECT_NEAR(b.vectors[2][2], 1.f, 1e-5);
  // A stage without eigenvalues is filled from the covariance, and refused without one.
  const Json stages = with_fitted_pca(Json::array({{{"type", "pca_lighting"}}}), cov, "d.h5");
  EXPECT_NEAR(stages[0]["eigenvalues"][0].get<double>(), 3.0, 1e-5);
  EXPECT_NO_THROW(make_stages(stages));
  EXPECT_THROW(make_stages(Json::array({{{"type", "pca_lighting"}}})), Error);
  EXPECT_THROW(with_fitted_pca(Json::array({{{"type", "pca_lighting"}}}), {}, "d.h5"), Error);
}

// Each crop stage tells multi-crop evaluation what it trained on; other stages tell nothing.
TEST(ViewHints, EachStageAnswersForItself) {
  const auto stages = make_stages(Json::parse(R"([
      {"type": "scale_crop", "size": 224, "scale_range": [256, 480], "eval_scale": 300},
      {"type": "random_resized_crop", "size": 224, "crop_fraction": 0.875},
      {"type": "pad_crop", "padding": 4, "fill": 9},
      {"type": "horizontal_flip"}])"));
  const ViewHint scale = stages[0]->view_hint();
  EXPECT_EQ(scale.eval_short_side, 300);
  EXPECT_EQ(scale.short_sides, (std::pair{256, 480}));
  EXPECT_FALSE(scale.shift);
  EXPECT_EQ(stages[1]->view_hint().eval_short_side, 256);  // 224 / 0.875
  const ViewHint pad = stages[2]->view_hint();
  EXPECT_EQ(pad.shift, 4);
  EXPECT_EQ(pad.fill, 9);
  EXPECT_FALSE(pad.eval_short_side);
  const ViewHint flip = stages[3]->view_hint();
  EXPECT_FALSE(flip.eval_short_side || flip.short_sides || flip.shift);
}

}  // namespace
}  // namespace kiln::pipeline
