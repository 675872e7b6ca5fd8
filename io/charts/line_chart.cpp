#include "io/charts/line_chart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <opencv2/imgproc.hpp>

#include "io/atomic_file.hpp"
#include "io/opencv_codecs.hpp"
#include "nn/error.hpp"

namespace kiln::io {

namespace {

std::string tick_label(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", v);
  return text;
}

// 1, 2 or 5 times a power of ten: the smallest such step giving at most `most` intervals.
double round_step(double span, int most) {
  const double raw = span / most;
  const double decade = std::pow(10.0, std::floor(std::log10(raw)));
  for (const double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * decade >= raw * (1 - 1e-9)) return m * decade;
  }
  return 10 * decade;
}

// The finite (and, on a log axis, positive) range of some values; [0, 1] (or [1, 10]) for none.
std::pair<double, double> value_range(const std::vector<const std::vector<double>*>& lists,
                                      bool log) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto* values : lists)
    for (const double v : *values)
      if (std::isfinite(v) && (!log || v > 0)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!std::isfinite(lo)) return log ? std::pair{1.0, 10.0} : std::pair{0.0, 1.0};
  return {lo, hi};
}

}  // namespace

std::vector<double> axis_ticks(double lo, double hi, bool log) {
  std::vector<double> ticks;
  if (log) {
    const int first = static_cast<int>(std::floor(std::log10(lo) + 1e-9));
    const int last = std::max(first + 1, static_cast<int>(std::ceil(std::log10(hi) - 1e-9)));
    const bool fine = last - first < 3;
    for (int k = first; k <= last; ++k) {
      // 1 / 10^-k: the double nearest to 10^k, as the literal 1e-7 is.
      const double p = k >= 0 ? std::pow(10.0, k) : 1.0 / std::pow(10.0, -k);
      ticks.push_back(p);
      if (fine && k < last) ticks.push_back(2 * p), ticks.push_back(5 * p);
    }
    // Trim fine ticks beyond the data's last decade mark.
    while (fine && ticks.size() > 2 && ticks[ticks.size() - 2] >= hi) ticks.pop_back();
    while (fine && ticks.size() > 2 && ticks[1] <= lo) ticks.erase(ticks.begin());
    return ticks;
  }
  if (hi - lo < 1e-12 * std::max(1.0, std::abs(hi))) lo -= 0.5, hi += 0.5;  // a flat line
  const double step = round_step(hi - lo, 5);
  // Multiples of the step, each computed afresh so no rounding error adds up.
  const auto first = static_cast<std::int64_t>(std::floor(lo / step + 1e-9));
  const auto last = static_cast<std::int64_t>(std::ceil(hi / step - 1e-9));
  for (std::int64_t i = first; i <= last; ++i) ticks.push_back(static_cast<double>(i) * step);
  return ticks;
}

cv::Mat render_line_chart(const std::string& title, const std::vector<double>& x,
                          const std::vector<Series>& series, const ChartOptions& options) {
  for (const Series& s : series) {
    if (s.values.size() != x.size()) {
      throw Error("chart '" + title + "': series '" + s.name + "' has " +
                  std::to_string(s.values.size()) + " values for " + std::to_string(x.size()) +
                  " x positions");
    }
  }
  const int width = 640, height = 400, left = 70, right = 20, top = 40, bottom = 50;
  cv::Mat canvas(height, width, CV_8UC3, cv::Scalar::all(255));
  const auto font = cv::FONT_HERSHEY_SIMPLEX;
  const cv::Scalar ink = cv::Scalar::all(0), grid = cv::Scalar::all(220);
  cv::putText(canvas, title, {left, 24}, font, 0.55, ink, 1, cv::LINE_AA);

  std::vector<const std::vector<double>*> ys;
  for (const Series& s : series) ys.push_back(&s.values);
  const auto [y_min, y_max] = value_range(ys, options.log_y);
  const auto [x_min, x_max] = value_range({&x}, options.log_x);
  const std::vector<double> y_ticks = axis_ticks(y_min, y_max, options.log_y);
  const std::vector<double> x_ticks = axis_ticks(x_min, x_max, options.log_x);
  // Positions along an axis are linear in the value, or in its logarithm.
  auto along = [](double v, const std::vector<double>& ticks, bool log) {
    const double lo = ticks.front(), hi = ticks.back();
    return log ? (std::log(v) - std::log(lo)) / (std::log(hi) - std::log(lo))
               : (v - lo) / (hi - lo);
  };
  const cv::Rect plot(left, top, width - left - right, height - top - bottom);
  auto to_pixel = [&](double xv, double yv) {
    return cv::Point(
        plot.x + static_cast<int>(std::lround(along(xv, x_ticks, options.log_x) * plot.width)),
        plot.y + plot.height -
            static_cast<int>(std::lround(along(yv, y_ticks, options.log_y) * plot.height)));
  };
  auto drawable = [&](double xv, double yv) {
    return std::isfinite(xv) && std::isfinite(yv) && (!options.log_x || xv > 0) &&
           (!options.log_y || yv > 0);
  };
  for (const double t : y_ticks) {
    const int y = to_pixel(x_ticks.front(), t).y;
    cv::line(canvas, {plot.x, y}, {plot.x + plot.width, y}, grid);
    cv::putText(canvas, tick_label(t), {4, y + 4}, font, 0.4, ink, 1, cv::LINE_AA);
  }
  for (const double t : x_ticks) {
    const int xp = to_pixel(t, y_ticks.front()).x;
    cv::line(canvas, {xp, plot.y}, {xp, plot.y + plot.height}, grid);
    const std::string label = tick_label(t);
    cv::putText(canvas, label, {xp - 4 * static_cast<int>(label.size()), plot.y + plot.height + 18},
                font, 0.4, ink, 1, cv::LINE_AA);
  }
  cv::rectangle(canvas, plot, ink);
  const std::string x_label = options.x_label + (options.log_x ? " (log scale)" : "");
  cv::putText(canvas, x_label,
              {plot.x + plot.width / 2 - 4 * static_cast<int>(x_label.size()), height - 10}, font,
              0.45, ink, 1, cv::LINE_AA);

  // Colour-blind-safe colours (Okabe & Ito), in BGR.
  const cv::Scalar colours[] = {{178, 114, 0}, {0, 94, 213}, {115, 158, 0}, {167, 121, 204}};
  for (std::size_t k = 0; k < series.size(); ++k) {
    const cv::Scalar colour = colours[k % 4];
    const Series& s = series[k];
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!drawable(x[i], s.values[i])) continue;
      const cv::Point p = to_pixel(x[i], s.values[i]);
      cv::circle(canvas, p, options.lines ? 3 : 4, colour, cv::FILLED, cv::LINE_AA);
      if (options.lines && i > 0 && drawable(x[i - 1], s.values[i - 1])) {
        cv::line(canvas, to_pixel(x[i - 1], s.values[i - 1]), p, colour, 2, cv::LINE_AA);
      }
    }
    const cv::Point legend(plot.x + plot.width - 150, plot.y + 18 + 18 * static_cast<int>(k));
    cv::line(canvas, legend, legend + cv::Point(20, 0), colour, 2, cv::LINE_AA);
    cv::putText(canvas, s.name, legend + cv::Point(26, 5), font, 0.45, ink, 1, cv::LINE_AA);
  }

  return canvas;
}

void write_png(const std::string& path, const cv::Mat& image) {
  const std::vector<std::uint8_t> png = opencv_encode(".png", image, {}, path);
  write_file_atomically(path, {reinterpret_cast<const char*>(png.data()), png.size()}, "the chart");
}

void write_line_chart_png(const std::string& path, const std::string& title,
                          const std::vector<double>& x, const std::vector<Series>& series,
                          const ChartOptions& options) {
  write_png(path, render_line_chart(title, x, series, options));
}

}  // namespace kiln::io
