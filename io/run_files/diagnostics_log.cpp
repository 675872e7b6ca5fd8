#include "io/run_files/diagnostics_log.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <opencv2/core.hpp>

#include "io/atomic_file.hpp"
#include "io/charts/line_chart.hpp"
#include "io/run_files/csv_log.hpp"
#include "io/run_files/run_directory.hpp"

namespace kiln::io {
namespace {

constexpr const char* kHeader =
    "epoch,step,layer,name,type,activation_mean,activation_std,dead_fraction,gradient_norm,"
    "weight_norm,update_ratio";

std::string cell(double v) {
  if (std::isnan(v)) return "";
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", v);
  return text;
}

// Both panels from the CSV rows: per step, per layer position, the two figures.
cv::Mat draw(const std::string& csv) {
  const LogTable table = read_csv_log(csv);
  std::map<double, std::map<double, std::pair<double, double>>>
      by_step;  // step → layer → (std, ratio)
  const auto step = table.column("step"), layer = table.column("layer"),
             spread = table.column("activation_std"), ratio = table.column("update_ratio");
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    by_step[step[r]][layer[r]] = {spread[r], ratio[r]};
  }
  std::vector<double> steps;
  for (const auto& [s, layers] : by_step) steps.push_back(s);
  if (steps.empty()) return {};
  std::vector<double> shown;  // up to four moments, first and last included
  for (std::size_t k = 0; k < std::min<std::size_t>(4, steps.size()); ++k) {
    const std::size_t at =
        steps.size() == 1 ? 0 : k * (steps.size() - 1) / std::min<std::size_t>(3, steps.size() - 1);
    if (shown.empty() || shown.back() != steps[at]) shown.push_back(steps[at]);
  }
  // Each panel over the layers that have its figure (a ReLU has no weights; a layer that applies
  // its ReLU has no output of its own), so its points join into one line per moment.
  auto panel = [&](const std::string& title, auto figure) {
    std::vector<double> depth;
    for (const auto& [l, figures] : by_step.at(shown.back())) {
      if (!std::isnan(figure(figures))) depth.push_back(l);
    }
    std::vector<Series> series;
    for (const double s : shown) {
      Series line{"step " + cell(s), {}};
      const auto& layers = by_step.at(s);
      for (const double l : depth) {
        const auto it = layers.find(l);
        line.values.push_back(it == layers.end() ? std::numeric_limits<double>::quiet_NaN()
                                                 : figure(it->second));
      }
      series.push_back(std::move(line));
    }
    return render_line_chart(title, depth, series, {.x_label = "layer", .log_y = true});
  };
  using Figures = std::pair<double, double>;
  const cv::Mat top =
      panel("activation standard deviation by layer", [](const Figures& f) { return f.first; });
  const cv::Mat bottom = panel("update / weight ratio by layer (rule of thumb: 1e-3)",
                               [](const Figures& f) { return f.second; });
  cv::Mat both;
  cv::vconcat(top, bottom, both);
  return both;
}

}  // namespace

DiagnosticsLog::DiagnosticsLog(std::string folder, std::int64_t resumed_epochs)
    : folder_(std::move(folder)) {
  if (resumed_epochs > 0) {
    rows_ = rows_through_epoch(RunDirectory(folder_).diagnostics(), resumed_epochs);
  }
}

void DiagnosticsLog::add(const nn::DiagnosticsRecord& record) {
  for (const nn::LayerDiagnostics& d : record.layers) {
    rows_.push_back(std::to_string(record.epoch) + "," + std::to_string(record.step) + "," +
                    std::to_string(d.layer) + "," + d.name + "," + d.type + "," +
                    cell(d.activation_mean) + "," + cell(d.activation_std) + "," +
                    cell(d.dead_fraction) + "," + cell(d.gradient_norm) + "," +
                    cell(d.weight_norm) + "," + cell(d.update_ratio));
  }
}

nn::Verdict DiagnosticsLog::on_epoch_end(nn::TrainState& /*state*/, const nn::EpochLogs& /*logs*/) {
  const RunDirectory run(folder_);
  std::string text = std::string(kHeader) + "\n";
  for (const std::string& r : rows_) text += r + "\n";
  const std::string csv = run.diagnostics();
  write_file_atomically(csv, text, "the diagnostics");
  if (!rows_.empty()) write_png(run.diagnostics_plot(), draw(csv));
  return nn::Verdict::kContinue;
}

}  // namespace kiln::io
