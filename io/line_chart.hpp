// A small line chart rendered with OpenCV into a PNG: the training curves of a run directory
// (loss, accuracy, learning rate per epoch) without Python or matplotlib. Axes carry min/max
// tick labels; NaN values (an epoch without validation) leave a gap.
#pragma once

#include <string>
#include <vector>

namespace kiln::io {

struct Series {
  std::string name;
  std::vector<double> values;  // one per x
};

// Writes atomically; throws kiln::Error naming the file when it cannot. `x` must be increasing
// and every series as long as `x`.
void write_line_chart_png(const std::string& path, const std::string& title,
                          const std::vector<double>& x, const std::vector<Series>& series,
                          const std::string& x_label = "epoch");

}  // namespace kiln::io
