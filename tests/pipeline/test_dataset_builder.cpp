#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <filesystem>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "io/dataset_reader.hpp"
#include "io/image_index.hpp"
#include "nn/error.hpp"
#include "pipeline/dataset/dataset_builder.hpp"
#include "tests/support/image_files.hpp"
#include "tests/support/temp_dir.hpp"

namespace kiln::pipeline {
namespace {
namespace fs = std::filesystem;

TEST(ResizeAndCrop, ShortSideFitsThenCentreCrop) {
  // 4 rows x 8 cols, value = column: to 2x2 → scale 0.5 → 2x4 → centre columns 1, 2.
  cv::Mat image(4, 8, CV_8UC1);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 8; ++x) image.at<uchar>(y, x) = static_cast<uchar>(x * 10);
  const cv::Mat out = resize_and_centre_crop(image, 2, 2);
  ASSERT_EQ(out.size(), cv::Size(2, 2));
  // INTER_AREA halves: resized column j averages source columns 2j, 2j+1 → 5, 25, 45, 65; keep
  // 25, 45.
  EXPECT_EQ(out.at<uchar>(0, 0), 25);
  EXPECT_EQ(out.at<uchar>(1, 1), 45);
  // Enlarging a 2x3 image to 4x4: 4x6 then the centre 4 columns.
  EXPECT_EQ(resize_and_centre_crop(cv::Mat(2, 3, CV_8UC3, cv::Scalar(1, 2, 3)), 4, 4).size(),
            cv::Size(4, 4));
}

class BuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_.path() / "images";
    fs::create_directories(root_ / "a");
    fs::create_directories(root_ / "b");
    for (int i = 0; i < 12; ++i) {
      const auto name =
          (root_ / (i % 2 ? "b" : "a") / ("img" + std::to_string(i) + ".png")).string();
      testing::write_bytes(name, testing::encode(testing::pattern_bgr(20 + i, 16), ".png"));
    }
    // The bad inputs of the issue, written here: empty, truncated JPEG, text named .jpg, bomb, GIF.
    testing::write_bytes((root_ / "a" / "x_empty.jpg").string(), {});
    auto jpeg = testing::encode(testing::pattern_bgr(64, 64), ".jpg");
    jpeg.resize(jpeg.size() / 2);
    testing::write_bytes((root_ / "a" / "x_truncated.jpg").string(), jpeg);
    const std::string text = "not an image";
    testing::write_bytes((root_ / "b" / "x_text.jpg").string(), {text.begin(), text.end()});
    auto png = testing::encode(testing::pattern_bgr(4, 4), ".png");
    const std::uint8_t huge[] = {0x00, 0x01, 0x86, 0xA0};
    std::copy(std::begin(huge), std::end(huge), png.begin() + 16);
    std::copy(std::begin(huge), std::end(huge), png.begin() + 20);
    testing::write_bytes((root_ / "b" / "x_bomb.png").string(), png);
    // A GIF whose screen is declared and whose frame never comes.
    testing::write_bytes((root_ / "b" / "x_cut.gif").string(),
                         {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0, 0, 0});
  }

  BuildOptions options(const std::string& name) const {
    BuildOptions o;
    o.output_path = dir_.file(name);
    o.height = 8;
    o.width = 10;
    o.block = 5;  // several blocks
    return o;
  }

  testing::TempDir dir_;
  fs::path root_;
};

TEST_F(BuilderTest, SkipModeRecordsEveryBadInputWithItsReason) {
  const io::ImageIndex index = io::index_class_folders(root_.string());
  const BuildSummary s = build_dataset(index, options("out.h5"));
  EXPECT_EQ(s.written, 12);
  ASSERT_EQ(s.skipped.size(), 5u);
  std::map<std::string, std::string> reasons;
  for (const auto& k : s.skipped) reasons[fs::path(k.path).filename().string()] = k.reason;
  EXPECT_EQ(reasons["x_empty.jpg"].rfind("empty file", 0), 0u);
  EXPECT_EQ(reasons["x_truncated.jpg"].rfind("truncated", 0), 0u);
  EXPECT_EQ(reasons["x_text.jpg"].rfind("not an image", 0), 0u);
  EXPECT_EQ(reasons["x_bomb.png"].rfind("too many pixels", 0), 0u);
  EXPECT_EQ(reasons["x_cut.gif"].rfind("truncated", 0), 0u) << reasons["x_cut.gif"];
  const io::DatasetReader reader(dir_.file("out.h5"));
  EXPECT_EQ(reader.size(), 12);
  EXPECT_EQ(reader.skipped().size(), 5u);  // recorded in the file too
  EXPECT_EQ(reader.channel_order(), "RGB");
  EXPECT_EQ(reader.class_names(), (std::vector<std::string>{"a", "b"}));
}

TEST_F(BuilderTest, FailModeStopsAtTheFirstBadInputAndLeavesNoFile) {
  const io::ImageIndex index = io::index_class_folders(root_.string());
  BuildOptions o = options("out.h5");
  o.on_error = OnError::kFail;
  try {
    build_dataset(index, o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("x_"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir_.file("out.h5")));
  for (const auto& entry : fs::directory_iterator(dir_.path())) {
    EXPECT_EQ(entry.path().string().find(".tmp-"), std::string::npos);
  }
}

TEST_F(BuilderTest, SameImagesWhateverTheThreadCount) {
  const io::ImageIndex index = io::index_class_folders(root_.string());
  auto build = [&](int threads, const std::string& name) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
    build_dataset(index, options(name));
    const io::DatasetReader reader(dir_.file(name));
    std::vector<std::uint8_t> pixels(
        static_cast<std::size_t>(reader.size() * reader.image_bytes()));
    reader.read_images(0, reader.size(), pixels);
    return std::make_pair(pixels, reader.labels());
  };
  EXPECT_EQ(build(1, "one.h5"), build(2, "two.h5"));
}

TEST(ResizeShortSide, KeepsTheAspectRatioAndCapsTheLongSide) {
  const cv::Mat image(30, 60, CV_8UC3, cv::Scalar(1, 2, 3));
  EXPECT_EQ(resize_short_side(image, 15, 0).size(), cv::Size(30, 15));
  EXPECT_EQ(resize_short_side(image, 20, 30).size(), cv::Size(30, 15));  // the cap wins
  EXPECT_EQ(resize_short_side(image, 0, 0).size(), cv::Size(60, 30));    // kept
  EXPECT_EQ(resize_short_side(image, 60, 0).size(), cv::Size(120, 60));  // enlarged
}

// Variable-size storage: each image keeps its aspect ratio; raw and PNG give back the resized
// pixels exactly, JPEG within its loss; the statistics are the resized pixels'.
TEST_F(BuilderTest, VariableSizeStorageKeepsEachImagesShape) {
  io::ImageIndex index = io::index_class_folders(root_.string());
  std::erase_if(index.paths,
                [](const std::string& p) { return p.find("/x_") != std::string::npos; });
  index.labels.resize(index.paths.size());
  for (std::size_t i = 0; i < index.paths.size(); ++i)
    index.labels[i] = index.paths[i].find("/b/") != std::string::npos ? 1 : 0;
  for (const char* encoding : {"raw", "png", "jpeg"}) {
    BuildOptions o = options(std::string("ragged-") + encoding + ".h5");
    o.height = o.width = 0;
    o.encoding = encoding;
    o.short_side = 8;
    o.max_side = 12;
    const BuildSummary summary = build_dataset(index, o);
    EXPECT_EQ(summary.written, 12) << encoding;
    const io::DatasetReader data(o.output_path);
    ASSERT_TRUE(data.ragged());
    EXPECT_EQ(data.encoding(), encoding);
    EXPECT_EQ(data.short_side(), 8);
    EXPECT_EQ(data.size(), 12);
    for (std::int64_t i = 0; i < data.size(); ++i) {
      // Sources are (20 + k) x 16: short side 16 → 8, long side (20 + k) / 2 capped at 12.
      const cv::Mat source = cv::imread(index.paths[static_cast<std::size_t>(i)]);
      cv::Mat rgb;
      cv::cvtColor(source, rgb, cv::COLOR_BGR2RGB);
      const cv::Mat expected = resize_short_side(rgb, 8, 12);
      const cv::Mat got = data.read_mat(i);
      ASSERT_EQ(got.size(), expected.size()) << encoding << " image " << i;
      EXPECT_EQ(data.image_size(i), expected.size());
      EXPECT_LE(cv::norm(got, expected, cv::NORM_INF), std::string(encoding) == "jpeg" ? 40.0 : 0.0)
          << encoding << " image " << i;
    }
    std::vector<std::uint8_t> buffer(16);
    EXPECT_THROW(data.read_images(0, 1, buffer), Error);
  }
  // original: JPEG files that need no resize are stored byte for byte; others re-encoded.
  const fs::path jpegs = dir_.path() / "jpegs";
  fs::create_directories(jpegs / "c");
  const auto small = testing::encode(testing::pattern_bgr(12, 8), ".jpg");
  testing::write_bytes((jpegs / "c" / "small.jpg").string(), small);
  testing::write_bytes((jpegs / "c" / "wide.jpg").string(),
                       testing::encode(testing::pattern_bgr(40, 8), ".jpg"));
  const auto png = testing::encode(testing::pattern_bgr(12, 8), ".png");
  testing::write_bytes((jpegs / "c" / "shot.png").string(), png);
  BuildOptions original = options("original.h5");
  original.height = original.width = 0;
  original.encoding = "original";
  original.max_side = 20;
  build_dataset(io::index_class_folders(jpegs.string()), original);
  const io::DatasetReader kept(original.output_path);
  EXPECT_EQ(kept.encoding(), "original");
  EXPECT_EQ(kept.read_stored(1), small) << "small.jpg needs no resize: kept as it is";
  EXPECT_EQ(kept.read_stored(0), png) << "so is the PNG";
  EXPECT_EQ(kept.image_size(2), cv::Size(20, 4)) << "wide.jpg: capped, so re-encoded";
  EXPECT_EQ(kept.read_stored(2)[0], 0xFF);  // as a JPEG
  EXPECT_EQ(kept.read_mat(0).size(), cv::Size(12, 8));

  BuildOptions bad = options("bad.h5");
  bad.height = bad.width = 0;
  bad.encoding = "raw";
  bad.short_side = 20;
  bad.max_side = 10;
  EXPECT_THROW(build_dataset(index, bad), Error);
}

TEST(StorageOfModel, ReadsFixedAndVariableRecordsAndNamesBadOnes) {
  const Storage fixed =
      storage_of_model({{"normalization", Json::object()}, {"input", {3, 32, 24}}}, "m.h5");
  EXPECT_EQ(fixed.channels, 3);
  EXPECT_EQ(fixed.height, 32);
  EXPECT_TRUE(fixed.fixed());
  EXPECT_EQ(fit_to_storage(cv::Mat(100, 50, CV_8UC3), fixed).size(), cv::Size(24, 32));
  const Storage variable = storage_of_model({{"normalization", Json::object()},
                                             {"input", {1, 0, 0}},
                                             {"storage", {{"short_side", 20}, {"max_side", 30}}}},
                                            "m.h5");
  EXPECT_FALSE(variable.fixed());
  EXPECT_EQ(variable.short_side, 20);
  EXPECT_EQ(BuildOptions::storing(variable).encoding, "raw");
  EXPECT_EQ(fit_to_storage(cv::Mat(100, 50, CV_8UC1), variable).size(), cv::Size(15, 30));
  for (const Json& bad : {Json::object(), Json{{"normalization", 1}, {"input", {3, 32}}},
                          Json{{"normalization", 1}, {"input", "3x32x32"}}}) {
    try {
      storage_of_model(bad, "m.h5");
      FAIL() << bad.dump();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("m.h5"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace kiln::pipeline
