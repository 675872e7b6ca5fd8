// Charts: round ticks (1-2-5 steps, powers of ten on log axes) and a PNG OpenCV reads back with
// the series drawn where the axes say.
#include <gtest/gtest.h>

#include <cmath>
#include <opencv2/imgcodecs.hpp>

#include "io/charts/line_chart.hpp"
#include "tests/support/temp_dir.hpp"

namespace kiln::io {
namespace {

TEST(AxisTicks, RoundStepsThatEncloseTheData) {
  // The example of the old evenly split labels (0.5109, 0.4112, 0.3116).
  const std::vector<double> t = axis_ticks(0.3116, 0.5109, false);
  ASSERT_GE(t.size(), 3u);
  EXPECT_LE(t.front(), 0.3116);
  EXPECT_GE(t.back(), 0.5109);
  const double step = t[1] - t[0];
  EXPECT_NEAR(step, 0.05, 1e-12);
  for (std::size_t i = 0; i < t.size(); ++i) {
    EXPECT_NEAR(t[i] / step, std::round(t[i] / step), 1e-9) << t[i];  // multiples of the step
  }
  EXPECT_EQ(axis_ticks(1, 10, false).size(), 6u);  // 0, 2, 4, 6, 8, 10
  EXPECT_DOUBLE_EQ(axis_ticks(1, 10, false)[1], 2.0);
  const std::vector<double> flat = axis_ticks(0.7, 0.7, false);  // one value: still an axis
  EXPECT_LT(flat.front(), 0.7);
  EXPECT_GT(flat.back(), 0.7);
}

TEST(AxisTicks, PowersOfTenOnALogAxis) {
  EXPECT_EQ(axis_ticks(3e-7, 4.0, true),
            (std::vector<double>{1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10}));
  // Less than three decades: 1, 2 and 5 times each power, trimmed to the data.
  const std::vector<double> fine = axis_ticks(0.003, 0.04, true);
  EXPECT_DOUBLE_EQ(fine.front(), 0.002);
  EXPECT_DOUBLE_EQ(fine.back(), 0.05);
  for (std::size_t i = 1; i < fine.size(); ++i) EXPECT_GT(fine[i], fine[i - 1]);
}

TEST(LineChart, ALogScatterIsDrawnWhereItsAxesSay) {
  testing::TempDir dir;
  const std::string path = dir.file("scatter.png");
  // Two points at the corners of a log-x axis from 1e-3 to 1e-1 and a y axis from 0 to 1.
  write_line_chart_png(path, "t", {1e-3, 1e-1}, {{"s", {0.0, 1.0}}},
                       {.x_label = "rate", .log_x = true, .lines = false});
  const cv::Mat png = cv::imread(path, cv::IMREAD_COLOR);
  ASSERT_FALSE(png.empty());
  ASSERT_EQ(png.cols, 640);
  // Plot area: x 70..620, y 40..350 (bottom-left is (1e-3, 0)). A dot is drawn in colour.
  auto coloured = [&](int x, int y) {
    const cv::Vec3b p = png.at<cv::Vec3b>(y, x);
    return !(p[0] == p[1] && p[1] == p[2]);
  };
  EXPECT_TRUE(coloured(70, 350));
  EXPECT_TRUE(coloured(620, 40));
  EXPECT_FALSE(coloured(345, 195));  // no line between them in a scatter plot
}

}  // namespace
}  // namespace kiln::io
