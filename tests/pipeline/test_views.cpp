// Multi-crop views against crops computed by hand on an image whose every pixel is distinct.
#include <gtest/gtest.h>

#include <opencv2/core.hpp>

#include "nn/error.hpp"
#include "pipeline/views.hpp"

namespace kiln::pipeline {
namespace {

// Pixel (x, y) holds 10·y + x: a view's top-left value tells where it was cut.
cv::Mat numbered(int w, int h) {
  cv::Mat m(h, w, CV_8UC1);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) m.at<std::uint8_t>(y, x) = static_cast<std::uint8_t>(10 * y + x);
  return m;
}

ViewOptions options(int crops, cv::Size crop) {
  ViewOptions o;
  o.crops = crops;
  o.crop = crop;
  return o;
}

TEST(Views, FiveCropsAreTheCornersThenTheCentre) {
  const cv::Mat image = numbered(7, 5);
  std::vector<cv::Mat> views;
  make_views(image, options(5, {3, 3}), views);
  ASSERT_EQ(views.size(), 5u);
  // (x, y) of each window's top-left: TL (0,0), TR (4,0), BL (0,2), BR (4,2), centre (2,1).
  const int expected_x[] = {0, 4, 0, 4, 2}, expected_y[] = {0, 0, 2, 2, 1};
  for (int v = 0; v < 5; ++v) {
    ASSERT_EQ(views[v].size(), cv::Size(3, 3));
    for (int y = 0; y < 3; ++y)
      for (int x = 0; x < 3; ++x)
        ASSERT_EQ(views[v].at<std::uint8_t>(y, x), 10 * (expected_y[v] + y) + expected_x[v] + x)
            << "view " << v << " at (" << x << ", " << y << ")";
  }
}

TEST(Views, TenCropsAddTheMirrorsInTheSameOrder) {
  const cv::Mat image = numbered(7, 5);
  std::vector<cv::Mat> views;
  make_views(image, options(10, {3, 2}), views);
  ASSERT_EQ(views.size(), 10u);
  for (int v = 0; v < 5; ++v) {
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 3; ++x)
        ASSERT_EQ(views[v + 5].at<std::uint8_t>(y, x), views[v].at<std::uint8_t>(y, 2 - x))
            << "mirror of view " << v;
  }
}

TEST(Views, OneCropIsTheCentre) {
  std::vector<cv::Mat> views;
  make_views(numbered(6, 6), options(1, {2, 2}), views);
  ASSERT_EQ(views.size(), 1u);
  EXPECT_EQ(views[0].at<std::uint8_t>(0, 0), 22);  // window at (2, 2)
}

TEST(Views, ScalesResizeTheShortSideAndKeepTheAspectRatio) {
  ViewOptions o = options(5, {2, 2});
  o.scales = {4, 2};
  const auto plan = plan_views({8, 4}, o);  // 8 wide, 4 high
  ASSERT_EQ(plan.size(), 10u);
  EXPECT_EQ(o.views_per_image(), 10);
  // Scale 4: the image as it is (8x4); TR window starts at x = 6. Scale 2: 4x2; TR at x = 2.
  EXPECT_EQ(plan[1].window, cv::Rect(6, 0, 2, 2));
  EXPECT_EQ(plan[6].window, cv::Rect(2, 0, 2, 2));
  EXPECT_EQ(plan[6].scale, 2);

  // A flat image stays flat through any resize: the views keep its value.
  cv::Mat flat(4, 8, CV_8UC3, cv::Scalar(9, 99, 199));
  std::vector<cv::Mat> views;
  make_views(flat, o, views);
  ASSERT_EQ(views.size(), 10u);
  for (const cv::Mat& v : views) {
    EXPECT_EQ(v.size(), cv::Size(2, 2));
    EXPECT_EQ(v.at<cv::Vec3b>(1, 1), cv::Vec3b(9, 99, 199));
  }
}

TEST(Views, PaddingTurnsTheCornersIntoShifts) {
  ViewOptions o = options(5, {4, 4});
  o.padding = 1;
  o.fill = 255;
  std::vector<cv::Mat> views;
  make_views(numbered(4, 4), o, views);
  // Top-left view: a row and a column of fill, then the image from (0, 0).
  EXPECT_EQ(views[0].at<std::uint8_t>(0, 0), 255);
  EXPECT_EQ(views[0].at<std::uint8_t>(1, 1), 0);
  // Bottom-right view: the image from (1, 1), then fill.
  EXPECT_EQ(views[3].at<std::uint8_t>(0, 0), 11);
  EXPECT_EQ(views[3].at<std::uint8_t>(3, 3), 255);
  // The centre is the unpadded image.
  EXPECT_EQ(views[4].at<std::uint8_t>(0, 0), 0);
  EXPECT_EQ(views[4].at<std::uint8_t>(3, 3), 33);
}

TEST(Views, ACropLargerThanTheScaledImageIsAClearError) {
  ViewOptions o = options(5, {24, 24});
  o.scales = {20};
  try {
    plan_views({32, 32}, o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("24x24 crop does not fit"), std::string::npos) << what;
    EXPECT_NE(what.find("short side 20"), std::string::npos) << what;
  }
}

TEST(Views, OptionsAreChecked) {
  EXPECT_THROW(check_view_options(options(3, {2, 2})), Error);
  EXPECT_THROW(check_view_options(options(5, {0, 2})), Error);
  ViewOptions o = options(5, {2, 2});
  o.scales = {0};
  EXPECT_THROW(check_view_options(o), Error);
  o = options(5, {2, 2});
  o.padding = -1;
  EXPECT_THROW(check_view_options(o), Error);
  o.padding = 0;
  o.fill = 256;
  EXPECT_THROW(check_view_options(o), Error);
}

// A request is a user's: each mistake is a ConfigError (exit 2) naming the field.
TEST(Views, RequestsAreCheckedOnceNamingTheField) {
  for (const int crops : kCropCounts) EXPECT_NO_THROW(check_view_request({.crops = crops}));
  auto message = [](const ViewRequest& r) {
    try {
      check_view_request(r);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message({.crops = 3}).find("crops must be 1, 5 or 10, got 3"), std::string::npos);
  EXPECT_NE(message({.crops = 5, .scales = {0}}).find("scales"), std::string::npos);
  EXPECT_NE(message({.crops = 5, .scales = {32}, .auto_scales = true}).find("not both"),
            std::string::npos);
  EXPECT_NE(message({.crops = 5, .padding = -2}).find("padding"), std::string::npos);
  EXPECT_EQ(message({.crops = 10, .scales = {32, 40}, .padding = 0}), "accepted");
}

}  // namespace
}  // namespace kiln::pipeline
