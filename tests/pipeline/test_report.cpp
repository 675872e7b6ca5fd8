// kiln report's data and page without a browser: what is read from a run directory, and a page
// that no data can break out of.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "nn/error.hpp"
#include "pipeline/report/report_data.hpp"
#include "pipeline/report/report_page.hpp"
#include "tests/support/temp_dir.hpp"

namespace kiln::pipeline {
namespace {

void write(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

TEST(ReportData, SummarizesARunDirectory) {
  testing::TempDir dir;
  const std::string run = dir.file("runs/a");
  write(run + "/config.json",
        R"({"optimizer": {"lr": 0.1, "type": "sgd"}, "augment": [{"type": "horizontal_flip"}],
            "run_dir": "runs/a"})");
  write(run + "/log.csv",
        "epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds,top5,val_top5,samples\n"
        "1,0.9,0.6,0.8,0.70,0.1,2.0,,,1000\n"
        "2,0.5,0.8,0.6,0.75,0.1,3.0,,,1000\n"
        "3,0.4,0.9,0.7,0.72,0.1,5.0,,,1000\n");
  const Json report = collect_report({dir.file("runs")});
  ASSERT_EQ(report["runs"].size(), 1u);
  const Json& r = report["runs"][0];
  EXPECT_EQ(r["status"], "running");  // no model.h5 yet
  EXPECT_TRUE(report["live"].get<bool>());
  EXPECT_EQ(r["config"]["optimizer.lr"], 0.1);
  EXPECT_EQ(r["config"]["augment"], R"([{"type":"horizontal_flip"}])");
  EXPECT_FALSE(r["config"].contains("run_dir"));  // where it is, not how it ran
  const Json& s = r["summary"];
  EXPECT_DOUBLE_EQ(s["final_val_accuracy"].get<double>(), 0.72);
  EXPECT_DOUBLE_EQ(s["best_val_accuracy"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(s["best_val_loss"].get<double>(), 0.6);
  EXPECT_DOUBLE_EQ(s["seconds"].get<double>(), 10.0);
  EXPECT_DOUBLE_EQ(s["images_per_second"].get<double>(), 300.0);
  EXPECT_TRUE(r["log"]["top5"][0].is_null());

  // A regression run's log: mae columns, the best the lowest.
  write(dir.file("runs/b") + "/log.csv",
        "epoch,loss,mae,val_loss,val_mae,learning_rate,seconds,top5,val_top5,samples\n"
        "1,0.9,0.6,0.8,0.50,0.1,2.0,,,1000\n"
        "2,0.5,0.4,0.6,0.30,0.1,3.0,,,1000\n"
        "3,0.4,0.3,0.7,0.35,0.1,5.0,,,1000\n");
  const Json both = collect_report({dir.file("runs")});
  ASSERT_EQ(both["runs"].size(), 2u);
  int regression_runs = 0;
  for (const Json& run : both["runs"]) {
    if (run["summary"]["final_val_mae"].is_null()) continue;
    ++regression_runs;
    EXPECT_DOUBLE_EQ(run["summary"]["final_val_mae"].get<double>(), 0.35);
    EXPECT_DOUBLE_EQ(run["summary"]["best_val_mae"].get<double>(), 0.30);
    EXPECT_TRUE(run["summary"]["final_accuracy"].is_null());
  }
  EXPECT_EQ(regression_runs, 1);
  std::filesystem::remove_all(dir.file("runs/b"));

  // An evaluate --report folder and an augmentation preview kept in the run directory.
  write(run + "/eval/confusion.csv", "true\\predicted,cat,dog\ncat,5,1\ndog,2,7\n");
  write(run + "/eval/per_class.csv", "class,precision,recall,f1,support\ncat,0.71,0.83,0.7653,6\n");
  write(run + "/augment-preview.png", "Man");  // the bytes only need encoding
  const Json more = collect_report({run})["runs"][0];
  EXPECT_EQ(more["evaluation"]["folder"], "eval");
  EXPECT_EQ(more["evaluation"]["confusion"][2][2], "7");
  EXPECT_EQ(more["evaluation"]["per_class"][1][0], "cat");
  EXPECT_EQ(more["previews"][0]["src"], "data:image/png;base64,TWFu");  // RFC 4648's example
  write(run + "/augment-preview.png", "Ma");
  EXPECT_EQ(collect_report({run})["runs"][0]["previews"][0]["src"], "data:image/png;base64,TWE=");

  // A multi-label evaluation: figures and a per-class table, no confusion matrix; a regression
  // one: figures alone. Both are shown (a folder of summary.csv counts, as of a classification).
  std::filesystem::remove_all(run + "/eval");
  write(run + "/eval/summary.csv", "metric,value\nimages,200\nmAP,0.97\n");
  write(run + "/eval/per_class.csv", "class,average_precision,f1,support\nleft,0.99,0.95,97\n");
  const Json multi_label = collect_report({run})["runs"][0]["evaluation"];
  EXPECT_EQ(multi_label["summary"][2][1], "0.97");
  EXPECT_EQ(multi_label["per_class"][1][0], "left");
  EXPECT_FALSE(multi_label.contains("confusion"));
  std::filesystem::remove(run + "/eval/per_class.csv");
  write(run + "/eval/summary.csv", "metric,value\nimages,200\nMAE,0.0213\n");
  const Json regression = collect_report({run})["runs"][0]["evaluation"];
  EXPECT_EQ(regression["folder"], "eval");
  EXPECT_EQ(regression["summary"][2][0], "MAE");
  EXPECT_FALSE(regression.contains("per_class"));
  std::filesystem::remove_all(run + "/eval");
  EXPECT_FALSE(collect_report({run})["runs"][0].contains("evaluation"));

  write(run + "/model.h5", "");
  EXPECT_FALSE(collect_report({run})["live"].get<bool>());
  EXPECT_THROW(collect_report({dir.file("runs/a/nothing")}), Error);
}

TEST(ReportPage, DataCannotCloseTheScriptElement) {
  const Json data = {{"runs", {{{"name", "</script><script>alert(1)</script>"}}}},
                     {"searches", Json::array()},
                     {"live", true}};
  const std::string page = report_page(data, "/* chart.js */", 5);
  EXPECT_EQ(page.find("</script><script>alert"), std::string::npos);
  EXPECT_NE(page.find("<\\/script><script>alert(1)<\\/script>"), std::string::npos);
  EXPECT_NE(page.find("http-equiv=\"refresh\" content=\"5\""), std::string::npos);
  EXPECT_EQ(report_page(data, "", 0).find("http-equiv"), std::string::npos);
}

}  // namespace
}  // namespace kiln::pipeline
