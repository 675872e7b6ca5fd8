// A small chart rendered with OpenCV into a PNG, without Python or matplotlib: the training
// curves of a run directory (loss, accuracy, learning rate per epoch), the learning-rate range
// test, a search's score against each parameter. Axis ticks fall on round numbers in 1-2-5 steps
// (0.2, 0.4, 0.6 — never 0.5109, 0.4112), or on powers of ten along a logarithmic axis. NaN
// values (an epoch without validation) leave a gap.
#pragma once

#include <opencv2/core/mat.hpp>
#include <string>
#include <vector>

namespace kiln::io {

struct Series {
  std::string name;
  std::vector<double> values;  // one per x
};

struct ChartOptions {
  std::string x_label = "epoch";
  bool log_x = false;  // x > 0 only; a value <= 0 is left out
  bool log_y = false;  // y > 0 only; a value <= 0 is left out
  bool lines = true;   // false: points only (a scatter plot; x need not increase)
};

// The chart as a 640x400 BGR image. Throws kiln::Error naming `title` for a series whose length
// is not x's.
cv::Mat render_line_chart(const std::string& title, const std::vector<double>& x,
                          const std::vector<Series>& series, const ChartOptions& options = {});

// Writes an image as PNG, atomically; throws kiln::Error naming the file when it cannot.
void write_png(const std::string& path, const cv::Mat& image);

// render_line_chart into a PNG file. Every series as long as `x`; with lines, `x` increasing.
void write_line_chart_png(const std::string& path, const std::string& title,
                          const std::vector<double>& x, const std::vector<Series>& series,
                          const ChartOptions& options = {});

// The tick positions of an axis showing [lo, hi]: the first and last enclose the range, about
// 4-8 ticks in 1-2-5 steps (linear) or at powers of ten (and 2 and 5 times them when the range
// spans less than three decades; logarithmic, lo > 0). Exposed for its test.
std::vector<double> axis_ticks(double lo, double hi, bool log);

}  // namespace kiln::io
