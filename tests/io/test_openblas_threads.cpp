#include <gtest/gtest.h>

#include <filesystem>
#include <opencv2/core.hpp>

#include "io/runtime/openblas_threads.hpp"

namespace kiln::io {
namespace {

int threads_in_this_process() {
  int n = 0;
  for ([[maybe_unused]] const auto& task : std::filesystem::directory_iterator("/proc/self/task"))
    ++n;
  return n;
}

// This test program links OpenCV, and so OpenBLAS, like kiln: its server threads are running
// before main(). Stopping them leaves that many fewer threads in the process, and OpenCV's
// linear algebra still works afterwards, on the calling thread.
TEST(OpenBlasThreads, StoppedThreadsLeaveTheProcessAndLinearAlgebraStillWorks) {
  const int before = threads_in_this_process();
  const int stopped = stop_openblas_threads();
  if (stopped == 0) GTEST_SKIP() << "no OpenBLAS server threads here (one core, or another BLAS)";
  EXPECT_EQ(threads_in_this_process(), before - stopped);
  EXPECT_EQ(stop_openblas_threads(), 0);  // nothing left to stop

  const cv::Mat a = (cv::Mat_<double>(2, 2) << 2, 1, 1, 3), b = (cv::Mat_<double>(2, 1) << 3, 5);
  cv::Mat x;
  ASSERT_TRUE(cv::solve(a, b, x, cv::DECOMP_SVD));
  EXPECT_NEAR(x.at<double>(0), 0.8, 1e-12);
  EXPECT_NEAR(x.at<double>(1), 1.4, 1e-12);
}

}  // namespace
}  // namespace kiln::io
