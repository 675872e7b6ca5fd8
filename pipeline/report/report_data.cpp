#include "pipeline/report/report_data.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "io/run_files/csv_log.hpp"
#include "io/run_files/run_directory.hpp"
#include "nn/error.hpp"
#include "pipeline/search/search_space.hpp"
#include "pipeline/training/train_config.hpp"

namespace kiln::pipeline {
namespace {

namespace fs = std::filesystem;

bool is_run(const fs::path& dir) { return io::RunDirectory(dir).holds_a_run(); }
bool is_search(const fs::path& dir) { return fs::exists(dir / "search.json"); }

Json number_or_null(double v) { return std::isfinite(v) ? Json(v) : Json(nullptr); }

// {"optimizer": {"lr": 0.1}} → {"optimizer.lr": 0.1}; lists stay whole.
void flatten(const Json& value, const std::string& prefix, Json& out) {
  if (value.is_object() && !value.empty()) {
    for (const auto& [key, item] : value.items()) {
      flatten(item, prefix.empty() ? key : prefix + "." + key, out);
    }
    return;
  }
  out[prefix] = value.is_structured() ? Json(value.dump()) : value;
}

Json columns_of(const io::LogTable& table) {
  Json columns = Json::object();
  for (const std::string& name : table.columns) {
    Json values = Json::array();
    for (const double v : table.column(name)) values.push_back(number_or_null(v));
    columns[name] = values;
  }
  return columns;
}

// Final and best figures, the wall time and the training speed.
Json summary_of(const io::LogTable& log) {
  Json s = Json::object();
  if (log.rows.empty()) return s;
  // Regression runs log mae and val_mae in place of the accuracies.
  for (const char* name : {"loss", "accuracy", "val_loss", "val_accuracy", "mae", "val_mae"}) {
    const std::vector<double> v = log.column(name);
    s["final_" + std::string(name)] = number_or_null(v.back());
    double best = std::nan("");
    const bool lower = std::string(name).find("loss") != std::string::npos ||
                       std::string(name).find("mae") != std::string::npos;
    for (const double x : v) {
      if (std::isfinite(x) && (std::isnan(best) || (lower ? x < best : x > best))) best = x;
    }
    s["best_" + std::string(name)] = number_or_null(best);
  }
  double seconds = 0, samples = 0;
  for (const double x : log.column("seconds")) seconds += std::isfinite(x) ? x : 0;
  for (const double x : log.column("samples")) samples += std::isfinite(x) ? x : 0;
  s["epochs"] = log.rows.size();
  s["seconds"] = seconds;
  s["images_per_second"] = seconds > 0 && samples > 0 ? Json(samples / seconds) : Json(nullptr);
  return s;
}

// diagnostics.csv as {steps: [...], layers: {name: {activation_std: [...], ...}}, order}.
Json diagnostics_of(const fs::path& csv) {
  const io::LogTable table = io::read_csv_log(csv.string());
  const std::vector<std::string> names = table.text_column("name");
  Json layers = Json::object();
  Json order = Json::array();  // JSON objects are sorted; the page draws layers in depth order
  std::vector<double> steps;
  const auto step = table.column("step");
  for (std::size_t r = 0; r < table.rows.size() && r < names.size(); ++r) {
    if (steps.empty() || steps.back() != step[r]) steps.push_back(step[r]);
    if (!layers.contains(names[r])) order.push_back(names[r]);
    Json& layer = layers[names[r]];
    for (const char* figure : {"activation_std", "dead_fraction", "update_ratio"}) {
      layer[figure].push_back(number_or_null(table.at_row(r, figure)));
    }
  }
  return {{"steps", steps}, {"layers", layers}, {"order", order}};
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// RFC 4648 base64, for images inlined as data: URLs.
std::string base64(const std::string& bytes) {
  static const char kDigits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const auto n = (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16) |
                   (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8) |
                   static_cast<unsigned char>(bytes[i + 2]);
    for (const int shift : {18, 12, 6, 0}) out += kDigits[(n >> shift) & 63];
  }
  if (i < bytes.size()) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (i + 1 < bytes.size())
      n |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += kDigits[(n >> 18) & 63];
    out += kDigits[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kDigits[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// A CSV file as rows of text cells, the header included.
std::vector<std::vector<std::string>> csv_rows(const fs::path& path) {
  std::vector<std::vector<std::string>> rows;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) rows.push_back(io::split_csv_line(line));
  return rows;
}

// An evaluate --report folder inside the run directory (or the run directory itself): the first
// holding summary.csv, or (written before it existed) a classification's confusion.csv and
// per_class.csv. Each file it holds is passed on as rows; multi-label and regression folders
// have no confusion matrix, regression ones no per-class table.
Json evaluation_of(const fs::path& dir) {
  std::vector<fs::path> candidates = {dir};
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_directory()) candidates.push_back(entry.path());
  }
  std::sort(candidates.begin(), candidates.end());
  for (const fs::path& folder : candidates) {
    const bool classification =
        fs::exists(folder / "confusion.csv") && fs::exists(folder / "per_class.csv");
    if (!classification && !fs::exists(folder / "summary.csv")) continue;
    Json evaluation = {{"folder", folder.filename().string()}};
    for (const char* table : {"summary", "confusion", "per_class"}) {
      const fs::path file = folder / (std::string(table) + ".csv");
      if (fs::exists(file)) evaluation[table] = csv_rows(file);
    }
    return evaluation;
  }
  return nullptr;
}

// PNGs of kiln augment-preview saved in the run directory (named *preview*.png).
Json previews_of(const fs::path& dir) {
  Json previews = Json::array();
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.find("preview") != std::string::npos &&
        entry.path().extension() == ".png") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    previews.push_back({{"name", f.filename().string()},
                        {"src", "data:image/png;base64," + base64(read_text(f))}});
  }
  return previews;
}

Json run_of(const fs::path& dir, const std::string& name, const std::string& status) {
  Json run = {{"name", name}, {"dir", dir.string()}};
  const io::RunDirectory files(dir);
  const io::LogTable log = io::read_csv_log(files.log());
  run["log"] = columns_of(log);
  run["summary"] = summary_of(log);
  Json config = Json::object();
  if (fs::exists(files.config())) flatten(load_config_file(files.config()), "", config);
  for (const char* own : {"run_dir", "output", "checkpoint", "log_csv"}) config.erase(own);
  run["config"] = config;
  const bool finished = fs::exists(files.model());
  run["status"] = !status.empty() ? status : finished ? "finished" : "running";
  run["live"] = status.empty() ? !finished : status == "running" || status == "pending";
  if (fs::exists(files.diagnostics())) run["diagnostics"] = diagnostics_of(files.diagnostics());
  if (Json e = evaluation_of(dir); !e.is_null()) run["evaluation"] = e;
  if (Json p = previews_of(dir); !p.empty()) run["previews"] = p;
  return run;
}

void add_search(const fs::path& dir, const std::string& name, Json& report) {
  const Json state = load_config_file((dir / "search.json").string());
  const Json& spec = state.at("spec");
  Json params = Json::array();
  for (const auto& [key, text] : spec.at("space").items()) {
    params.push_back(
        {{"key", key}, {"log", parse_search_param(key, text, "search.json").log_scale()}});
  }
  Json trials = Json::array();
  for (const Json& t : state.at("trials")) {
    const auto number = t.at("number").get<std::int64_t>();
    char folder[32];
    std::snprintf(folder, sizeof folder, "trial-%03lld", static_cast<long long>(number));
    double score = std::nan("");
    std::int64_t epochs = 0;
    for (const auto& [e, v] : t.at("scores").items()) {
      if (std::stoll(e) >= epochs)
        epochs = std::stoll(e), score = v.is_number() ? v.get<double>() : score;
    }
    const std::string status = t.at("status").get<std::string>();
    trials.push_back({{"number", number},
                      {"run", name + "/" + folder},
                      {"status", status},
                      {"reason", t.at("reason")},
                      {"score", number_or_null(score)},
                      {"epochs", epochs},
                      {"seconds", t.at("seconds")},
                      {"point", t.at("point")}});
    if (fs::exists(io::RunDirectory(dir / folder).log())) {
      report["runs"].push_back(run_of(dir / folder, name + "/" + folder, status));
    }
  }
  report["searches"].push_back({{"name", name},
                                {"dir", dir.string()},
                                {"strategy", spec.at("strategy")},
                                {"metric", spec.at("metric")},
                                {"params", params},
                                {"trials", trials}});
}

}  // namespace

Json collect_report(const std::vector<std::string>& folders) {
  Json report = {{"runs", Json::array()}, {"searches", Json::array()}};
  for (const std::string& folder : folders) {
    const fs::path dir(folder);
    if (!fs::is_directory(dir))
      throw Error(folder + ": not a folder; give run or search directories");
    if (is_search(dir)) {
      add_search(dir, folder, report);
    } else if (is_run(dir)) {
      report["runs"].push_back(run_of(dir, folder, ""));
    } else {
      std::vector<fs::path> inside;
      for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.is_directory() && (is_search(entry.path()) || is_run(entry.path())))
          inside.push_back(entry.path());
      }
      if (inside.empty()) {
        throw Error(folder +
                    ": holds no kiln run (config.json, log.csv) or search (search.json), "
                    "nor folders of them");
      }
      std::sort(inside.begin(), inside.end());
      for (const fs::path& p : inside) {
        const std::string name = (fs::path(folder) / p.filename()).string();
        if (is_search(p))
          add_search(p, name, report);
        else
          report["runs"].push_back(run_of(p, name, ""));
      }
    }
  }
  bool live = false;
  for (const Json& run : report["runs"]) live = live || run.at("live").get<bool>();
  report["live"] = live;
  return report;
}

}  // namespace kiln::pipeline
