#include "pipeline/search/search_files.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>

#include "io/atomic_file.hpp"
#include "io/charts/line_chart.hpp"

namespace kiln::pipeline {
namespace {

namespace fs = std::filesystem;

// A CSV field: quoted when it holds a comma, a quote or a line break.
std::string field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (const char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string number(double v, const char* format = "%.6g") {
  if (std::isnan(v)) return "";
  char text[32];
  std::snprintf(text, sizeof text, format, v);
  return text;
}

std::string value_field(const Json& v) {
  if (v.is_string()) return field(v.get<std::string>());
  if (v.is_number_float()) return number(v.get<double>(), "%.9g");
  return field(v.dump());
}

void write_trials_csv(const std::string& dir, const std::vector<SearchParam>& space,
                      const std::string& metric, const std::vector<Trial>& trials) {
  std::string text = "trial,status," + metric + ",epochs,seconds";
  for (const SearchParam& p : space) text += "," + field(p.key);
  text += ",reason\n";
  for (const Trial& t : trials) {
    text += std::to_string(t.number) + "," + t.status + "," + number(t.score()) + "," +
            std::to_string(t.epochs()) + "," + number(t.seconds, "%.1f");
    for (const SearchParam& p : space) {
      text += "," + (t.point.contains(p.key) ? value_field(t.point.at(p.key)) : "");
    }
    text += "," + field(t.reason) + "\n";
  }
  io::write_file_atomically(fs::path(dir) / "trials.csv", text, "the trials table");
}

// Score against one parameter: a point per scored trial at its last rung, a series per rung.
void write_score_plot(const std::string& dir, const SearchParam& p, const std::string& metric,
                      const std::vector<Trial>& trials) {
  std::vector<double> x;
  std::map<std::int64_t, std::vector<std::size_t>> by_epochs;  // epochs → positions in x
  std::vector<double> y;
  for (const Trial& t : trials) {
    if (t.scores.empty() || !t.point.contains(p.key) || !t.point.at(p.key).is_number()) continue;
    by_epochs[t.epochs()].push_back(x.size());
    x.push_back(t.point.at(p.key).get<double>());
    y.push_back(t.score());
  }
  if (x.empty()) return;
  std::vector<io::Series> series;
  for (const auto& [epochs, positions] : by_epochs) {
    io::Series s{std::to_string(epochs) + (epochs == 1 ? " epoch" : " epochs"),
                 std::vector<double>(x.size(), std::numeric_limits<double>::quiet_NaN())};
    for (const std::size_t i : positions) s.values[i] = y[i];
    series.push_back(std::move(s));
  }
  io::write_line_chart_png((fs::path(dir) / score_plot_name(p.key)).string(),
                           metric + " against " + p.key, x, series,
                           {.x_label = p.key, .log_x = p.log_scale(), .lines = false});
}

}  // namespace

std::string score_plot_name(const std::string& key) { return "score_vs_" + key + ".png"; }

void write_search_files(const std::string& dir, const std::vector<SearchParam>& space,
                        const std::string& metric, const std::vector<Trial>& trials,
                        const Json& best_config) {
  write_trials_csv(dir, space, metric, trials);
  for (const SearchParam& p : space) write_score_plot(dir, p, metric, trials);
  if (!best_config.is_null()) {
    io::write_file_atomically(fs::path(dir) / "best.json", best_config.dump(2) + "\n",
                              "the best trial's config");
  }
}

}  // namespace kiln::pipeline
