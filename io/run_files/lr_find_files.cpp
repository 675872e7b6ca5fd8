#include "io/run_files/lr_find_files.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <sstream>

#include "io/atomic_file.hpp"
#include "io/charts/line_chart.hpp"

namespace kiln::io {
namespace {

constexpr double kGap = std::numeric_limits<double>::quiet_NaN();

// A series drawn as one dot: the point of `x` (rates) nearest to `rate` on a log scale, at `y`'s
// value there.
Series marker(const std::string& name, double rate, const std::vector<double>& x,
              const std::vector<double>& y) {
  Series s{name, std::vector<double>(x.size(), kGap)};
  if (x.empty()) return s;
  std::size_t nearest = 0;
  for (std::size_t i = 1; i < x.size(); ++i) {
    if (std::abs(std::log(x[i] / rate)) < std::abs(std::log(x[nearest] / rate))) nearest = i;
  }
  s.values[nearest] = y[nearest];
  return s;
}

}  // namespace

void write_lr_find_files(const std::string& folder, const nn::LrFindResult& result) {
  const std::filesystem::path dir(folder);
  std::ostringstream csv;
  csv.precision(9);
  csv << "step,rate,loss,smoothed\n";
  for (std::size_t i = 0; i < result.points.size(); ++i) {
    const nn::LrFindPoint& p = result.points[i];
    csv << i << "," << p.rate << "," << p.loss << "," << p.smoothed << "\n";
  }
  write_file_atomically(dir / "lr_find.csv", csv.str(), "the range test's losses");

  // Both losses are drawn up to 4x the smallest smoothed value: past that the divergence would
  // squash the part of the curve that matters.
  double lowest = std::numeric_limits<double>::infinity();
  for (const nn::LrFindPoint& p : result.points) lowest = std::min(lowest, p.smoothed);
  std::vector<double> x;
  Series loss{"loss", {}}, smoothed{"smoothed", {}};
  for (const nn::LrFindPoint& p : result.points) {
    x.push_back(p.rate);
    loss.values.push_back(p.loss <= 4 * lowest ? p.loss : kGap);
    smoothed.values.push_back(p.smoothed <= 4 * lowest ? p.smoothed : kGap);
  }
  std::vector<Series> series = {loss, smoothed};
  if (!x.empty()) {
    series.push_back(marker("steepest", result.steepest, x, smoothed.values));
    series.push_back(marker("minimum / 10", result.minimum_by_10, x, smoothed.values));
  }
  write_line_chart_png((dir / "lr_find.png").string(), "learning-rate range test", x, series,
                       {.x_label = "learning rate", .log_x = true});
}

}  // namespace kiln::io
