// kiln report: one HTML page comparing runs and searches (pipeline/report/report_page.hpp).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>

#include "apps/shared/commands.hpp"
#include "apps/shared/validators.hpp"
#include "pipeline/report/report_page.hpp"

namespace kiln::apps {
namespace {

struct ReportCommandLine {
  std::vector<std::string> folders;
  std::string output = "report.html";
  bool watch = false;
  double interval = 2.0;  // seconds between rewrites with --watch
};

void say_written(const ReportCommandLine& x, const Json& data) {
  std::printf("wrote %s: %zu runs, %zu searches, %.0f KB%s\n", x.output.c_str(),
              data.at("runs").size(), data.at("searches").size(),
              static_cast<double>(std::filesystem::file_size(x.output)) / 1024.0,
              data.at("live").get<bool>() && x.watch ? "; runs still training" : "");
  std::fflush(stdout);
}

void run_report(const ReportCommandLine& x) {
  // A page written while runs train reloads itself as often as it is rewritten.
  const int refresh = x.watch ? std::max(1, static_cast<int>(x.interval)) : 0;
  Json data = pipeline::write_report(x.folders, x.output, refresh);
  say_written(x, data);
  if (!x.watch) return;
  while (data.at("live").get<bool>()) {
    std::this_thread::sleep_for(std::chrono::duration<double>(x.interval));
    data = pipeline::write_report(x.folders, x.output, refresh);
  }
  say_written(x, data);
  std::printf("every run has ended; the page no longer reloads\n");
}

}  // namespace

void add_report_command(CLI::App& app) {
  auto x = std::make_shared<ReportCommandLine>();
  CLI::App* cmd = app.add_subcommand(
      "report",
      "Write one self-contained HTML page comparing runs and searches: overlaid curves, a "
      "sortable runs table with the config keys that differ, search scores and trials, "
      "diagnostics, evaluation reports. Opens offline; needs Debian's libjs-chart.js.");
  cmd->add_option("folders", x->folders,
                  "Run directories, search directories (all their trials), or folders of them")
      ->required()
      ->check(existing_path());
  cmd->add_option("-o,--output", x->output, "The HTML file")->capture_default_str();
  cmd->add_flag("--watch", x->watch,
                "Rewrite the page while runs train (every --interval seconds), the page reloading "
                "itself, until every run has ended");
  cmd->add_option("--interval", x->interval, "Seconds between rewrites with --watch")
      ->check(CLI::Range(0.2, 3600.0))
      ->capture_default_str();
  cmd->callback([x] { run_report(*x); });
}

}  // namespace kiln::apps
