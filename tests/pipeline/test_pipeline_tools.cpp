// kiln bench pipeline's digest and kiln augment-preview's grid.
#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <opencv2/imgproc.hpp>

#include "io/dataset_reader.hpp"
#include "nn/error.hpp"
#include "pipeline/bench/pipeline_bench.hpp"
#include "pipeline/training/augment_preview.hpp"
#include "tests/support/dataset_files.hpp"
#include "tests/support/temp_dir.hpp"

namespace kiln::pipeline {
namespace {

class PipelineTools : public ::testing::Test {
 protected:
  void SetUp() override { testing::write_indexed_dataset(dir_.file("d.h5"), 57, 6, 7, 3, 3); }
  testing::TempDir dir_;
};

TEST_F(PipelineTools, BenchDigestIsTheSameForAnyThreadCountAndChangesWithTheSeed) {
  PipelineBenchRequest r{.data_path = dir_.file("d.h5"),
                         .stages = Json::array({{{"type", "pad_crop"}, {"padding", 2}},
                                                {{"type", "horizontal_flip"}},
                                                {{"type", "pca_lighting"}}}),  // fitted
                         .batch_size = 8,
                         .threads = 1,
                         .epochs = 2};
  const PipelineBenchResult one = bench_pipeline(r);
  r.threads = 2;
  const PipelineBenchResult two = bench_pipeline(r);
  EXPECT_EQ(one.digest, two.digest);
  EXPECT_EQ(one.images_per_second.size(), 2u);
  EXPECT_EQ(one.samples_per_epoch, 57);
  EXPECT_LE(two.peak_in_flight, two.max_in_flight);
  r.seed = 2;
  EXPECT_NE(bench_pipeline(r).digest, one.digest);
}

TEST_F(PipelineTools, PreviewGridShowsTheStoredImageThenEachEpoch) {
  const PreviewRequest r{.data_path = dir_.file("d.h5"),
                         .stages = Json::array({{{"type", "horizontal_flip"}, {"p", 1.0}}}),
                         .images = 3,
                         .views = 2,
                         .seed = 1,
                         .cell = 70};
  const cv::Mat grid = render_augment_preview(r);
  ASSERT_EQ(grid.type(), CV_8UC3);
  EXPECT_EQ(grid.cols, 3 * (70 + 4));
  EXPECT_EQ(grid.rows, 22 + 3 * (70 + 4));
  // Row 0 is image 0, enlarged 10x (70 / 7) and centred: the stored cell shows pixel (0, 0) of
  // the image at its top-left, the epoch-1 cell (always flipped) shows pixel (6, 0) there.
  const io::DatasetReader data(dir_.file("d.h5"));
  cv::Mat stored(6, 7, CV_8UC3);
  data.read_image(0, {stored.data, static_cast<std::size_t>(data.image_bytes())});
  cv::Mat bgr;
  cv::cvtColor(stored, bgr, cv::COLOR_RGB2BGR);
  const int top = 22 + (70 - 60) / 2;
  EXPECT_EQ(grid.at<cv::Vec3b>(top, 0), bgr.at<cv::Vec3b>(0, 0));
  EXPECT_EQ(grid.at<cv::Vec3b>(top, 74), bgr.at<cv::Vec3b>(0, 6));
  EXPECT_THROW(render_augment_preview({.data_path = dir_.file("d.h5"), .images = 0}), Error);
}

}  // namespace
}  // namespace kiln::pipeline
