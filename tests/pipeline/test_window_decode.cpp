// When the first stage is a crop, the loader decodes only the crop's window of each JPEG. That
// must not change a single value of any batch: the same images stored as raw pixels (read whole,
// then cut) give the reference.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <opencv2/imgproc.hpp>

#include "io/dataset_reader.hpp"
#include "io/image_index.hpp"
#include "pipeline/dataset/dataset_builder.hpp"
#include "pipeline/loader.hpp"
#include "pipeline/transforms/registry.hpp"
#include "pipeline/transforms/resize_crop.hpp"
#include "tests/support/image_files.hpp"
#include "tests/support/temp_dir.hpp"

namespace kiln::pipeline {
namespace {

namespace fs = std::filesystem;

// Smooth noise: photo-like content at every scale, so any misplaced pixel shows.
cv::Mat photo_bgr(int w, int h, int seed, double blur) {
  cv::Mat m(h, w, CV_8UC3);
  cv::RNG rng(static_cast<std::uint64_t>(seed));
  rng.fill(m, cv::RNG::UNIFORM, 0, 256);
  cv::GaussianBlur(m, m, {0, 0}, blur);
  cv::normalize(m, m, 0, 255, cv::NORM_MINMAX);
  return m;
}

class WindowDecodeTest : public ::testing::Test {
 protected:
  // Stores the JPEGs of `sizes` twice: as the JPEG files themselves and as their decoded pixels.
  void store(const std::vector<cv::Size>& sizes, double blur) {
    io::ImageIndex index;
    index.class_names = {"a", "b"};
    fs::create_directories(dir_.path() / "images");
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      const std::string path =
          (dir_.path() / "images" / ("p" + std::to_string(i) + ".jpg")).string();
      const bool progressive = i % 3 == 2;
      testing::write_bytes(
          path,
          testing::encode(photo_bgr(sizes[i].width, sizes[i].height, static_cast<int>(i), blur),
                          ".jpg", {cv::IMWRITE_JPEG_PROGRESSIVE, progressive}));
      index.paths.push_back(path);
      index.labels.push_back(static_cast<std::int32_t>(i % 2));
    }
    for (const char* encoding : {"original", "raw"}) {
      BuildOptions o;
      o.output_path = dir_.file(std::string(encoding) + ".h5");
      o.encoding = encoding;
      build_dataset(index, o);
    }
  }

  std::vector<float> batches(const std::string& encoding, const Json& stages, nn::Mode mode) {
    auto reader = std::make_shared<const io::DatasetReader>(dir_.file(encoding + ".h5"));
    LoaderOptions options;
    options.batch_size = 4;
    options.seed = 11;
    options.mode = mode;
    options.threads = 2;
    Loader loader(reader, {"RGB", {0.f, 0.f, 0.f}, {1.f, 1.f, 1.f}}, make_stages(stages), options);
    std::vector<float> all;
    for (std::uint64_t epoch = 0; epoch < 2; ++epoch) {
      loader.start_epoch(epoch);
      nn::Batch batch;
      while (loader.next(batch))
        all.insert(all.end(), batch.inputs.span().begin(), batch.inputs.span().end());
    }
    return all;
  }

  testing::TempDir dir_;
};

TEST_F(WindowDecodeTest, CropsOfJpegWindowsEqualCropsOfWholeImages) {
  store({{97, 70}, {70, 97}, {64, 64}, {100, 45}, {81, 81}, {66, 100}, {90, 61}, {75, 75}}, 1.5);
  const Json crops[] = {
      // Windows under twice the crop (so decoded at full scale): 32 * 120 / 48 = 80 at most.
      Json::array({{{"type", "scale_crop"}, {"size", 32}, {"scale_range", {48, 60}}},
                   {{"type", "horizontal_flip"}}}),
      // Windows of at most 120 pixels: never twice the crop, so never decoded at reduced scale.
      Json::array({{{"type", "random_resized_crop"}, {"size", 64}}}),
  };
  for (const Json& stages : crops) {
    for (const nn::Mode mode : {nn::Mode::kTrain, nn::Mode::kEval}) {
      const std::vector<float> windows = batches("original", stages, mode);
      ASSERT_FALSE(windows.empty());
      const std::vector<float> whole = batches("raw", stages, mode);
      ASSERT_EQ(windows.size(), whole.size());
      std::size_t first = 0;
      while (first < whole.size() && windows[first] == whole[first]) ++first;
      EXPECT_EQ(first, whole.size())
          << stages.dump() << (mode == nn::Mode::kTrain ? " train" : " eval")
          << " first difference at " << first << " of " << whole.size();
    }
  }
}

// A window much larger than the crop is decoded at 1/2..1/8 scale: not bit-identical to area
// averaging the full-size window, but close: about one grey level on average on smooth content,
// where a window misplaced by the fraction of a pixel that the reduced scale leaves gives 3.5.
TEST_F(WindowDecodeTest, LargeWindowsDecodeAtReducedScaleAndStayClose) {
  store({{400, 300}, {300, 400}, {360, 360}, {420, 280}}, 20.0);
  const Json stages =
      Json::array({{{"type", "scale_crop"}, {"size", 32}, {"scale_range", {36, 44}}}});
  const std::vector<float> windows = batches("original", stages, nn::Mode::kTrain);
  const std::vector<float> whole = batches("raw", stages, nn::Mode::kTrain);
  ASSERT_EQ(windows.size(), whole.size());
  double sum = 0, largest = 0;
  for (std::size_t k = 0; k < whole.size(); ++k) {
    const double d = std::abs(windows[k] - whole[k]);
    sum += d;
    largest = std::max(largest, d);
  }
  EXPECT_GT(largest, 0.0) << "expected the reduced-scale decode to be in use";
  EXPECT_LT(sum / static_cast<double>(whole.size()), 1.5);  // 3.5 with the window misplaced
  EXPECT_LT(largest, 12.0);
}

// The fractional area of a reduced-scale window, on a ramp whose value is 2x: bilinear
// interpolation of a linear function is exact, so output u must read 2 * (10.25 + (u + 0.5) * 2
// - 0.5) = 21.5 + 4u (cv::resize's pixel-centre convention), up to rounding.
TEST(ResizeCrop, FractionalAreaLandsWhereItShould) {
  cv::Mat ramp(10, 100, CV_8UC1);
  for (int y = 0; y < ramp.rows; ++y)
    for (int x = 0; x < ramp.cols; ++x)
      ramp.at<std::uint8_t>(y, x) = static_cast<std::uint8_t>(2 * x);
  const cv::Mat out = resize_crop(ramp, {20, 5}, cv::Rect2d(10.25, 0, 40, 10));
  ASSERT_EQ(out.size(), cv::Size(20, 5));
  for (int u = 0; u < 20; ++u)
    EXPECT_NEAR(out.at<std::uint8_t>(2, u), 21.5 + 4 * u, 0.51) << "column " << u;
  // The whole pixels as the area: plain cv::resize.
  cv::Mat plain;
  cv::resize(ramp, plain, {50, 5}, 0, 0, cv::INTER_LINEAR);
  EXPECT_EQ(cv::norm(resize_crop(ramp, {50, 5}, cv::Rect2d(0, 0, 100, 10)), plain, cv::NORM_INF),
            0.0);
}

}  // namespace
}  // namespace kiln::pipeline
