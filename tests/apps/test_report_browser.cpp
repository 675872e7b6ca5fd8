// kiln report in a real browser: Debian's chromium, headless, loads the page of two short runs
// (one with a multi-label evaluation, one with a regression one) and a small search from a file
// URL; the DOM after its script ran must hold a line per run in every curve chart, the runs
// table's rows and differing keys, the evaluations' tables, and no JavaScript error; a screenshot
// (kept as report-screenshot.png in the test's working folder) must not be blank.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <regex>
#include <string>

#include "tests/support/idx_files.hpp"
#include "tests/support/run_kiln.hpp"
#include "tests/support/temp_dir.hpp"

namespace kiln {
namespace {

using testing::Invocation;
using testing::kiln;
using testing::kiln_shell;

bool have_chromium() { return kiln_shell("command -v chromium").exit_code == 0; }

// Headless chromium on a file URL, with `what` (--dump-dom, --screenshot=...); its own output on
// stderr (console messages included) goes to `log`.
Invocation chromium(const std::string& what, const std::string& page, const std::string& log) {
  return kiln_shell(
      "chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars "
      "--enable-logging=stderr --window-size=1200,2400 --virtual-time-budget=5000 " +
      what + " file://" + page + " 2>" + log);
}

int count(const std::string& text, const std::string& part) {
  int n = 0;
  for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

TEST(ReportInBrowser, ChartsTablesAndNoScriptErrors) {
  if (!have_chromium()) GTEST_SKIP() << "chromium is not installed: apt-get install chromium";
  if (!std::filesystem::exists("/usr/share/javascript/chart.js/chart.min.js")) {
    GTEST_SKIP() << "Chart.js is not installed: apt-get install libjs-chart.js";
  }
  testing::TempDir dir;
  const std::string d = dir.path().string();
  auto [images, labels] = testing::write_synthetic_idx(d, "train", 200, 8, 8, 4, 1);
  ASSERT_EQ(kiln("preprocess " + images + " --labels " + labels + " -o " + d + "/t.h5").exit_code,
            0);
  const std::string data = d + "/t.h5 --validation-split 0.25 --batch-size 16 ";
  ASSERT_EQ(kiln("train " + data + "--epochs 3 --lr 0.01 --run-dir " + d + "/runs/a").exit_code, 0);
  ASSERT_EQ(kiln("train " + data + "--epochs 3 --lr 0.1 --flip 0.5 --diagnostics 5 --run-dir " + d +
                 "/runs/b")
                .exit_code,
            0);
  ASSERT_EQ(kiln("search " + data + "--epochs 2 --run-dir " + d +
                 "/search --strategy grid --param 'optimizer.lr=[0.003, 0.03]'")
                .exit_code,
            0);
  // Evaluation folders as evaluate --report writes them for a multi-label model (figures and a
  // per-class table, no confusion matrix) and a regression one (figures alone).
  std::filesystem::create_directories(d + "/runs/a/eval");
  std::ofstream(d + "/runs/a/eval/summary.csv")
      << "metric,value\nimages,200\nviews_per_image,1\nthreshold,0.5\nmAP,0.97\n"
         "micro_f1,0.93\nmacro_f1,0.92\nsubset_accuracy,0.88\n";
  std::ofstream(d + "/runs/a/eval/per_class.csv")
      << "class,average_precision,f1,support\nleft,0.99,0.95,97\nright,0.95,,0\n";
  std::filesystem::create_directories(d + "/runs/b/eval");
  std::ofstream(d + "/runs/b/eval/summary.csv")
      << "metric,value\nimages,200\nviews_per_image,5\nMAE,0.0213\nRMSE,0.031\nR2,\n";
  const std::string page = d + "/report.html";
  const Invocation report = kiln("report " + d + "/runs " + d + "/search -o " + page);
  ASSERT_EQ(report.exit_code, 0) << report.output;
  EXPECT_NE(report.output.find("4 runs, 1 searches"), std::string::npos) << report.output;

  const Invocation dom = chromium("--dump-dom", page, d + "/chromium.log");
  ASSERT_EQ(dom.exit_code, 0) << dom.output;
  const std::string& html = dom.output;
  ASSERT_NE(html.find("data-ready=\"1\""), std::string::npos) << "the script did not finish";
  // Every curve chart: one line per run (2 runs + 2 trials).
  for (const char* figure : {"loss", "val_loss", "accuracy", "val_accuracy", "learning_rate"}) {
    const std::regex canvas(std::string("data-chart=\"") + figure +
                            "\"[^>]*data-datasets=\"(\\d+)\"");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(html, m, canvas)) << figure;
    EXPECT_EQ(m[1], "4") << figure;
  }
  EXPECT_NE(html.find("data-chart=\"score:optimizer.lr\""), std::string::npos);
  EXPECT_NE(html.find("data-chart=\"diagnostics:activation_std\""), std::string::npos);
  // The runs table: a row per run, and the keys that differ between them named.
  const std::size_t runs = html.find("data-table=\"runs\"");
  ASSERT_NE(runs, std::string::npos);
  const std::string runs_table = html.substr(runs, html.find("</table>", runs) - runs);
  EXPECT_EQ(count(runs_table, "<tr"), 1 + 4);
  for (const char* key : {"optimizer.lr", "epochs", "augment", "diagnostics"}) {
    EXPECT_NE(runs_table.find(std::string(">") + key + "<"), std::string::npos) << key;
  }
  EXPECT_EQ(runs_table.find(">seed<"), std::string::npos) << "seed is the same in every run";
  const std::size_t trials = html.find("data-table=\"trials\"");
  ASSERT_NE(trials, std::string::npos);
  EXPECT_EQ(count(html.substr(trials, html.find("</table>", trials) - trials), "<tr"), 1 + 2);
  // The two evaluations: their figures each, one per-class table, no confusion matrix.
  EXPECT_EQ(count(html, "data-table=\"eval-summary\""), 2);
  EXPECT_EQ(count(html, "data-table=\"per_class\""), 1);
  EXPECT_EQ(count(html, "data-table=\"confusion\""), 0);
  EXPECT_NE(html.find(">subset_accuracy<"), std::string::npos);
  EXPECT_NE(html.find(">RMSE<"), std::string::npos);
  // No JavaScript error: none caught by the page, none in the browser's console log.
  EXPECT_NE(html.find("<pre id=\"js-errors\"></pre>"), std::string::npos) << html.substr(0, 2000);
  std::ifstream log(d + "/chromium.log");
  for (std::string line; std::getline(log, line);) {
    EXPECT_EQ(line.find("Uncaught"), std::string::npos) << line;
    EXPECT_EQ(line.find("CONSOLE"), std::string::npos) << line;
  }

  const std::string shot = std::filesystem::absolute("report-screenshot.png").string();
  ASSERT_EQ(chromium("--screenshot=" + shot, page, d + "/shot.log").exit_code, 0);
  const cv::Mat image = cv::imread(shot, cv::IMREAD_COLOR);
  ASSERT_FALSE(image.empty());
  cv::Scalar mean, spread;
  cv::meanStdDev(image, mean, spread);
  EXPECT_GT(spread[0], 10.0) << "the screenshot is blank";
  // The curves are drawn in colour, not only text in black on white.
  cv::Mat hsv;
  cv::cvtColor(image, hsv, cv::COLOR_BGR2HSV);
  std::vector<cv::Mat> planes;
  cv::split(hsv, planes);
  EXPECT_GT(cv::countNonZero(planes[1] > 100), 1000) << "no coloured pixels in " << shot;
}

}  // namespace
}  // namespace kiln
