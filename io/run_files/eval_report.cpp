#include "io/run_files/eval_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "io/atomic_file.hpp"
#include "io/opencv_codecs.hpp"
#include "nn/error.hpp"

namespace kiln::io {

namespace {

std::string class_name(const std::vector<std::string>& names, std::int64_t c) {
  return c >= 0 && c < static_cast<std::int64_t>(names.size()) ? names[static_cast<std::size_t>(c)]
                                                               : std::to_string(c);
}

std::string number(double v) {
  if (std::isnan(v)) return "";
  char text[32];
  std::snprintf(text, sizeof text, "%.6f", v);
  return text;
}

// Renders the report file into memory and replaces the target with it in one step.
template <class Body>
void write_atomically(const std::string& path, Body&& body) {
  std::ostringstream out;
  body(out);
  write_file_atomically(path, out.str(), "the evaluation report");
}

}  // namespace

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (const char c : text) {
    quoted += c;
    if (c == '"') quoted += '"';
  }
  return quoted + "\"";
}

void write_confusion_csv(const std::string& path, const nn::ClassificationMetrics& metrics,
                         const std::vector<std::string>& class_names) {
  write_atomically(path, [&](std::ostream& out) {
    out << "true\\predicted";
    for (std::int64_t c = 0; c < metrics.classes(); ++c)
      out << ',' << csv_field(class_name(class_names, c));
    out << '\n';
    for (std::int64_t t = 0; t < metrics.classes(); ++t) {
      out << csv_field(class_name(class_names, t));
      for (const std::int64_t n : metrics.confusion()[static_cast<std::size_t>(t)]) out << ',' << n;
      out << '\n';
    }
  });
}

void write_per_class_csv(const std::string& path, const nn::ClassificationMetrics& metrics,
                         const std::vector<std::string>& class_names) {
  write_atomically(path, [&](std::ostream& out) {
    out << "class,precision,recall,f1,support\n";
    for (std::int64_t c = 0; c < metrics.classes(); ++c) {
      out << csv_field(class_name(class_names, c)) << ',' << number(metrics.precision(c)) << ','
          << number(metrics.recall(c)) << ',' << number(metrics.f1(c)) << ',' << metrics.support(c)
          << '\n';
    }
  });
}

void write_predictions_csv(const std::string& path, const std::vector<ImagePrediction>& rows,
                           const std::vector<std::string>& class_names) {
  write_atomically(path, [&](std::ostream& out) {
    out << "index,source,label,true_class,predicted,predicted_class,probability,correct\n";
    for (const ImagePrediction& r : rows) {
      out << r.index << ',' << csv_field(r.source) << ',' << r.label << ','
          << csv_field(class_name(class_names, r.label)) << ',' << r.predicted << ','
          << csv_field(class_name(class_names, r.predicted)) << ',' << number(r.probability) << ','
          << (r.label == r.predicted ? 1 : 0) << '\n';
    }
  });
}

void write_summary_csv(const std::string& path,
                       const std::vector<std::pair<std::string, double>>& figures) {
  write_atomically(path, [&](std::ostream& out) {
    out << "metric,value\n";
    for (const auto& [metric, value] : figures) {
      char text[32] = "";  // NaN: an empty cell; counts stay integers, ratios keep 9 digits
      if (!std::isnan(value)) std::snprintf(text, sizeof text, "%.9g", value);
      out << metric << ',' << text << '\n';
    }
  });
}

void write_multi_label_csv(const std::string& path, const nn::MultiLabelMetrics& metrics,
                           const std::vector<std::string>& class_names) {
  write_atomically(path, [&](std::ostream& out) {
    out << "class,average_precision,f1,support\n";
    for (std::int64_t c = 0; c < metrics.classes(); ++c) {
      out << csv_field(class_name(class_names, c)) << ',' << number(metrics.average_precision(c))
          << ',' << number(metrics.f1(c)) << ',' << metrics.support(c) << '\n';
    }
  });
}

void write_scores_csv(const std::string& path, const std::vector<ImageScores>& rows,
                      const std::vector<std::string>& names) {
  write_atomically(path, [&](std::ostream& out) {
    out << "index,source";
    for (const std::string& n : names)
      out << ',' << csv_field(n) << ',' << csv_field("predicted_" + n);
    out << '\n';
    for (const ImageScores& r : rows) {
      out << r.index << ',' << csv_field(r.source);
      for (std::size_t k = 0; k < r.scores.size(); ++k)
        out << ',' << number(r.targets.at(k)) << ',' << number(r.scores[k]);
      out << '\n';
    }
  });
}

void write_confusion_png(const std::string& path, const nn::ClassificationMetrics& metrics,
                         const std::vector<std::string>& class_names) {
  const auto classes = static_cast<int>(metrics.classes());
  // Cells shrink with many classes so the picture stays around 700 px wide.
  const int cell = std::clamp(640 / classes, 6, 56);
  const bool write_counts = cell >= 28;
  const int left = 150, top = 60, right = 20, bottom = 40;
  cv::Mat canvas(top + classes * cell + bottom, left + classes * cell + right, CV_8UC3,
                 cv::Scalar::all(255));
  const auto font = cv::FONT_HERSHEY_SIMPLEX;
  cv::putText(canvas, "rows: true class, columns: predicted (colour: fraction of the row)", {8, 22},
              font, 0.45, cv::Scalar::all(0), 1, cv::LINE_AA);

  // Row fractions → 0..255 → the viridis colour map.
  cv::Mat fractions(classes, classes, CV_8UC1);
  for (int t = 0; t < classes; ++t) {
    const double row_total = static_cast<double>(std::max<std::int64_t>(1, metrics.support(t)));
    for (int p = 0; p < classes; ++p) {
      const double f = static_cast<double>(metrics.confusion()[t][p]) / row_total;
      fractions.at<std::uint8_t>(t, p) = static_cast<std::uint8_t>(std::lround(255.0 * f));
    }
  }
  cv::Mat colours;
  cv::applyColorMap(fractions, colours, cv::COLORMAP_VIRIDIS);
  for (int t = 0; t < classes; ++t) {
    for (int p = 0; p < classes; ++p) {
      const cv::Rect box(left + p * cell, top + t * cell, cell, cell);
      const cv::Vec3b c = colours.at<cv::Vec3b>(t, p);
      cv::rectangle(canvas, box, cv::Scalar(c[0], c[1], c[2]), cv::FILLED);
      if (write_counts) {
        const std::string n = std::to_string(metrics.confusion()[t][p]);
        const cv::Scalar ink =
            fractions.at<std::uint8_t>(t, p) > 150 ? cv::Scalar::all(0) : cv::Scalar::all(255);
        cv::putText(canvas, n, {box.x + 3, box.y + cell / 2 + 4}, font, 0.35, ink, 1, cv::LINE_AA);
      }
    }
    // Row labels: the class name, cut to fit the margin; columns: the class id.
    std::string name = class_name(class_names, t);
    if (name.size() > 18) name = name.substr(0, 17) + "~";
    if (cell >= 12) {
      cv::putText(canvas, name, {6, top + t * cell + cell / 2 + 4}, font, 0.4, cv::Scalar::all(0),
                  1, cv::LINE_AA);
      cv::putText(canvas, std::to_string(t), {left + t * cell + 2, top - 6}, font, 0.35,
                  cv::Scalar::all(0), 1, cv::LINE_AA);
    }
  }
  const std::vector<std::uint8_t> png = opencv_encode(".png", canvas, {}, path);
  write_file_atomically(path, {reinterpret_cast<const char*>(png.data()), png.size()},
                        "the confusion matrix");
}

}  // namespace kiln::io
