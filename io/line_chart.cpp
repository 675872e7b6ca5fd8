#include "io/line_chart.hpp"

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

std::string tick(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", v);
  return text;
}

}  // namespace

void write_line_chart_png(const std::string& path, const std::string& title,
                          const std::vector<double>& x, const std::vector<Series>& series,
                          const std::string& x_label) {
  for (const Series& s : series) {
    if (s.values.size() != x.size()) {
      throw Error(path + ": series '" + s.name + "' has " + std::to_string(s.values.size()) +
                  " values for " + std::to_string(x.size()) + " x positions");
    }
  }
  const int width = 640, height = 400, left = 70, right = 20, top = 40, bottom = 50;
  cv::Mat canvas(height, width, CV_8UC3, cv::Scalar::all(255));
  const auto font = cv::FONT_HERSHEY_SIMPLEX;
  const cv::Scalar ink = cv::Scalar::all(0), grid = cv::Scalar::all(220);
  cv::putText(canvas, title, {left, 24}, font, 0.55, ink, 1, cv::LINE_AA);

  double y_lo = std::numeric_limits<double>::infinity(), y_hi = -y_lo;
  for (const Series& s : series)
    for (const double v : s.values)
      if (std::isfinite(v)) y_lo = std::min(y_lo, v), y_hi = std::max(y_hi, v);
  if (!std::isfinite(y_lo)) y_lo = 0, y_hi = 1;
  if (y_hi - y_lo < 1e-12) y_lo -= 0.5, y_hi += 0.5;  // a flat line sits mid-height
  const double x_lo = x.empty() ? 0 : x.front();
  const double x_hi = x.size() < 2 ? x_lo + 1 : x.back();
  const cv::Rect plot(left, top, width - left - right, height - top - bottom);
  auto to_pixel = [&](double xv, double yv) {
    return cv::Point(
        plot.x + static_cast<int>(std::lround((xv - x_lo) / (x_hi - x_lo) * plot.width)),
        plot.y + plot.height -
            static_cast<int>(std::lround((yv - y_lo) / (y_hi - y_lo) * plot.height)));
  };
  for (int i = 0; i <= 4; ++i) {
    const int y = plot.y + plot.height * i / 4;
    cv::line(canvas, {plot.x, y}, {plot.x + plot.width, y}, grid);
    cv::putText(canvas, tick(y_hi - (y_hi - y_lo) * i / 4), {4, y + 4}, font, 0.4, ink, 1,
                cv::LINE_AA);
  }
  cv::rectangle(canvas, plot, ink);
  cv::putText(canvas, tick(x_lo), {plot.x, plot.y + plot.height + 18}, font, 0.4, ink, 1,
              cv::LINE_AA);
  cv::putText(canvas, tick(x_hi), {plot.x + plot.width - 30, plot.y + plot.height + 18}, font, 0.4,
              ink, 1, cv::LINE_AA);
  cv::putText(canvas, x_label, {plot.x + plot.width / 2 - 20, height - 12}, font, 0.45, ink, 1,
              cv::LINE_AA);

  // Colour-blind-safe colours (Okabe & Ito), in BGR.
  const cv::Scalar colours[] = {{178, 114, 0}, {0, 94, 213}, {115, 158, 0}, {167, 121, 204}};
  for (std::size_t k = 0; k < series.size(); ++k) {
    const cv::Scalar colour = colours[k % 4];
    const Series& s = series[k];
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!std::isfinite(s.values[i])) continue;
      const cv::Point p = to_pixel(x[i], s.values[i]);
      cv::circle(canvas, p, 3, colour, cv::FILLED, cv::LINE_AA);
      if (i > 0 && std::isfinite(s.values[i - 1])) {
        cv::line(canvas, to_pixel(x[i - 1], s.values[i - 1]), p, colour, 2, cv::LINE_AA);
      }
    }
    const cv::Point legend(plot.x + plot.width - 150, plot.y + 18 + 18 * static_cast<int>(k));
    cv::line(canvas, legend, legend + cv::Point(20, 0), colour, 2, cv::LINE_AA);
    cv::putText(canvas, s.name, legend + cv::Point(26, 5), font, 0.45, ink, 1, cv::LINE_AA);
  }

  const std::vector<std::uint8_t> png = opencv_encode(".png", canvas, {}, path);
  write_file_atomically(path, {reinterpret_cast<const char*>(png.data()), png.size()}, "the chart");
}

}  // namespace kiln::io
