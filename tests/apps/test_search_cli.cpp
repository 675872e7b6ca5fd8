// kiln search and kiln train --folds / --stop-after as a user runs them: real trials of a small
// MLP on synthetic 8x8 images, a few tenths of a second each.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "io/model_file.hpp"
#include "io/run_files/csv_log.hpp"
#include "nn/json.hpp"
#include "pipeline/training/train_config.hpp"
#include "tests/support/idx_files.hpp"
#include "tests/support/run_kiln.hpp"
#include "tests/support/temp_dir.hpp"

namespace kiln {
namespace {

using testing::Invocation;
using testing::kiln;

// One row of a CSV file kiln wrote, by column name; quoted fields are unquoted.
using Row = std::map<std::string, std::string>;

std::vector<Row> read_rows(const std::string& path) {
  const io::LogTable table = io::read_csv_log(path);
  std::vector<Row> rows;
  for (const std::vector<std::string>& cells : table.cells) {
    Row row;
    for (std::size_t i = 0; i < table.columns.size(); ++i) row[table.columns[i]] = cells[i];
    rows.push_back(row);
  }
  return rows;
}

// The rows without their wall times, which no two runs share.
std::vector<Row> without_seconds(std::vector<Row> rows) {
  for (Row& r : rows) r.erase("seconds");
  return rows;
}

// The arguments as one shell command line for kiln(), each quoted.
std::string quoted_words(const std::vector<std::string>& args) {
  std::string line;
  for (const std::string& a : args) line += "'" + a + "' ";
  return line;
}

bool same_weights(const std::string& a, const std::string& b) {
  io::ModelBundle x = io::load_model(a), y = io::load_model(b);
  const auto px = x.model.parameters(), py = y.model.parameters();
  if (px.size() != py.size()) return false;
  for (std::size_t i = 0; i < px.size(); ++i) {
    if (!std::equal(px[i]->value.span().begin(), px[i]->value.span().end(),
                    py[i]->value.span().begin(), py[i]->value.span().end())) {
      return false;
    }
  }
  return true;
}

std::string text_of(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

class CliTuning : public ::testing::Test {
 protected:
  void SetUp() override {
    auto [images, labels] = testing::write_synthetic_idx(d(), "train", 400, 8, 8, 4, 1);
    ASSERT_EQ(
        kiln("preprocess " + images + " --labels " + labels + " -o " + d() + "/train.h5").exit_code,
        0);
  }
  std::string d() const { return dir_.path().string(); }
  std::string data() const { return d() + "/train.h5 --validation-split 0.25 --batch-size 32 "; }
  testing::TempDir dir_;
};

TEST_F(CliTuning, GridTrainsEveryCombinationAndWritesItsFiles) {
  const std::string dir = d() + "/grid";
  const Invocation run = kiln("search " + data() + "--epochs 1 --run-dir " + dir +
                              " --strategy grid --param 'optimizer.lr=[0.003, 0.3]'"
                              " --param 'optimizer.momentum=[0, 0.9]'");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const std::vector<Row> trials = read_rows(dir + "/trials.csv");
  ASSERT_EQ(trials.size(), 4u);
  EXPECT_EQ(trials[1].at("optimizer.lr"), "0.003");  // the first key varies slowest
  EXPECT_EQ(trials[1].at("optimizer.momentum"), "0.9");
  std::string best;
  double best_score = -1;
  for (const Row& t : trials) {
    EXPECT_EQ(t.at("status"), "finished");
    EXPECT_EQ(t.at("epochs"), "1");
    // The score is the trial's own validation figure, from its own run directory.
    char folder[32];
    std::snprintf(folder, sizeof folder, "/trial-%03d", std::stoi(t.at("trial")));
    const io::LogTable log = io::read_csv_log(dir + folder + "/log.csv");
    EXPECT_NEAR(std::stod(t.at("val_accuracy")), log.at_epoch(1, "val_accuracy"), 1e-5);
    EXPECT_TRUE(std::filesystem::exists(dir + folder + "/model.h5"));
    if (std::stod(t.at("val_accuracy")) > best_score) {
      best_score = std::stod(t.at("val_accuracy"));
      best = t.at("optimizer.lr") + "," + t.at("optimizer.momentum");
    }
  }
  // best.json is the best trial's config, ready to train.
  const Json best_config = pipeline::load_config_file(dir + "/best.json");
  std::ostringstream lr_and_momentum;
  lr_and_momentum << best_config["optimizer"]["lr"].get<double>() << ","
                  << best_config["optimizer"]["momentum"].get<double>();
  EXPECT_EQ(lr_and_momentum.str(), best);
  EXPECT_FALSE(best_config.contains("run_dir"));
  const Invocation again =
      kiln("train --config " + dir + "/best.json --run-dir " + d() + "/best --print-config");
  EXPECT_EQ(again.exit_code, 0) << again.output;
  for (const char* plot : {"score_vs_optimizer.lr.png", "score_vs_optimizer.momentum.png"}) {
    EXPECT_FALSE(cv::imread(dir + "/" + plot).empty()) << plot;
  }
}

TEST_F(CliTuning, RandomTrialsComeFromTheSearchSeed) {
  const std::string params =
      " --strategy random --trials 3 --param 'optimizer.lr=loguniform(1e-3, 1e-1)' --param "
      "'batch_size=int(16, 64)'";
  auto values = [&](const std::string& dir, int seed) {
    const Invocation run = kiln("search " + data() + "--epochs 1 --run-dir " + dir + params +
                                " --search-seed " + std::to_string(seed));
    EXPECT_EQ(run.exit_code, 0) << run.output;
    std::vector<std::string> v;
    for (const Row& t : read_rows(dir + "/trials.csv")) {
      v.push_back(t.at("optimizer.lr") + " " + t.at("batch_size"));
      EXPECT_GE(std::stoi(t.at("batch_size")), 16);
      EXPECT_LE(std::stoi(t.at("batch_size")), 64);
    }
    return v;
  };
  const std::vector<std::string> a = values(d() + "/a", 5);
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(values(d() + "/b", 5), a);
  EXPECT_NE(values(d() + "/c", 6), a);
}

// Halving continues the best trials from their own checkpoints: the winner's model is the very
// model one uninterrupted run of its config trains.
TEST_F(CliTuning, HalvingContinuesTheBestExactly) {
  const std::string dir = d() + "/halving";
  const Invocation run =
      kiln("search " + data() + "--epochs 4 --flip 0.5 --run-dir " + dir +
           " --strategy halving --trials 4 --eta 2 --min-epochs 1"
           " --param 'optimizer.lr=loguniform(1e-3, 3e-1)' --set 'schedule=\"cosine\"'");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const std::vector<Row> trials = read_rows(dir + "/trials.csv");
  ASSERT_EQ(trials.size(), 4u);
  std::map<std::string, int> by_status;
  for (const Row& t : trials) {
    ++by_status[t.at("status") + "@" + t.at("epochs")];
    if (t.at("status") == "stopped") {
      EXPECT_NE(t.at("reason").find("halving: not in the best"), std::string::npos);
    }
  }
  // 4 trials at epoch 1, the best 2 to epoch 2, the best 1 to epoch 4.
  EXPECT_EQ(by_status["stopped@1"], 2);
  EXPECT_EQ(by_status["stopped@2"], 1);
  EXPECT_EQ(by_status["finished@4"], 1);
  const auto winner = std::find_if(trials.begin(), trials.end(),
                                   [](const Row& t) { return t.at("status") == "finished"; });
  char folder[32];
  std::snprintf(folder, sizeof folder, "/trial-%03d", std::stoi(winner->at("trial")));
  const std::string trial = dir + folder;
  EXPECT_NE(text_of(trial + "/train.log").find("Resuming"), std::string::npos);
  const Invocation straight =
      kiln("train --config " + trial + "/config.json --run-dir " + d() + "/straight");
  ASSERT_EQ(straight.exit_code, 0) << straight.output;
  EXPECT_TRUE(same_weights(trial + "/model.h5", d() + "/straight/model.h5"));
}

TEST_F(CliTuning, AFailedTrialIsRecordedAndTheSearchGoesOn) {
  const std::string dir = d() + "/failing";
  const Invocation run = kiln("search " + data() + "--epochs 1 --run-dir " + dir +
                              " --strategy grid --param 'optimizer.lr=[0.01, 100000]'"
                              " --param 'optimizer.momentum=[0.5, 2]'");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const std::vector<Row> trials = read_rows(dir + "/trials.csv");
  ASSERT_EQ(trials.size(), 4u);
  EXPECT_EQ(trials[0].at("status"), "finished");  // lr 0.01, momentum 0.5
  EXPECT_EQ(trials[1].at("status"), "failed");    // momentum 2: not allowed
  EXPECT_NE(trials[1].at("reason").find("optimizer.momentum"), std::string::npos)
      << trials[1].at("reason");
  EXPECT_EQ(trials[2].at("status"), "failed");  // lr 1e5: the loss diverges
  EXPECT_NE(trials[2].at("reason").find("learning rate"), std::string::npos)
      << trials[2].at("reason");
  EXPECT_NE(run.output.find("1 finished, 0 stopped by halving, 3 failed"), std::string::npos)
      << run.output;
}

TEST_F(CliTuning, MistakesAreNamedBeforeAnyTrialRuns) {
  const std::string dir = d() + "/wrong";
  auto refused = [&](const std::string& args, const std::string& says) {
    const Invocation run = kiln("search " + args);
    EXPECT_EQ(run.exit_code, 2) << args << "\n" << run.output;
    EXPECT_NE(run.output.find(says), std::string::npos) << args << "\n" << run.output;
  };
  refused(data() + "--run-dir " + dir + " --param optimizer.lrr=[1]", "optimizer.lrr");
  refused(data() + "--run-dir " + dir + " --strategy grid --param 'optimizer.lr=uniform(0, 1)'",
          "--strategy random");
  refused(d() + "/train.h5 --run-dir " + dir + " --param optimizer.lr=[0.1]",
          "needs validation data");
  refused(data() + "--param optimizer.lr=[0.1]", "--run-dir");
  refused(data() + "--run-dir " + dir, "nothing to search");
  EXPECT_FALSE(std::filesystem::exists(dir + "/trial-001"));
  ASSERT_EQ(kiln("search " + data() + "--epochs 1 --run-dir " + dir + " --param optimizer.lr=[0.1]")
                .exit_code,
            0);
  refused(data() + "--epochs 1 --run-dir " + dir + " --param optimizer.lr=[0.2]",
          "holds another search (its space differs)");
}

// A search killed at any moment continues when the same command runs again: trials that finished
// are not run again, the one cut short resumes from its checkpoint, and the table ends as an
// uninterrupted search's.
TEST_F(CliTuning, AKilledSearchContinuesWhereItStopped) {
  const std::vector<std::string> args = {"search",
                                         d() + "/train.h5",
                                         "--validation-split",
                                         "0.25",
                                         "--batch-size",
                                         "8",
                                         "--epochs",
                                         "4",
                                         "--strategy",
                                         "random",
                                         "--trials",
                                         "3",
                                         "--param",
                                         "optimizer.lr=loguniform(1e-3, 1e-1)"};
  auto with_dir = [&](const std::string& dir) {
    std::vector<std::string> a = args;
    a.insert(a.end(), {"--run-dir", dir});
    return a;
  };
  ASSERT_EQ(kiln(quoted_words(with_dir(d() + "/straight"))).exit_code, 0);

  const std::string dir = d() + "/killed";
  const pid_t search = testing::spawn_kiln(with_dir(dir));
  ASSERT_GE(search, 0);
  // Kill the search once trial 2 has a checkpoint: trial 1 is done, trial 2 under way.
  for (int i = 0; i < 40000 && !std::filesystem::exists(dir + "/trial-002/checkpoint.h5"); ++i) {
    usleep(500);
  }
  kill(search, SIGKILL);
  int status = 0;
  waitpid(search, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the search finished before it could be killed";
  // Its trial process dies with it rather than training on unwatched.
  usleep(300000);
  const auto log_size = std::filesystem::file_size(dir + "/trial-002/train.log");
  usleep(300000);
  EXPECT_EQ(std::filesystem::file_size(dir + "/trial-002/train.log"), log_size);

  const Invocation resumed = kiln(quoted_words(with_dir(dir)));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(resumed.output.find("trial 1:"), std::string::npos) << "trial 1 ran again";
  EXPECT_NE(text_of(dir + "/trial-002/train.log").find("Resuming"), std::string::npos);
  EXPECT_EQ(without_seconds(read_rows(dir + "/trials.csv")),
            without_seconds(read_rows(d() + "/straight/trials.csv")));
  for (const char* trial : {"/trial-001", "/trial-002", "/trial-003"}) {
    EXPECT_TRUE(same_weights(dir + trial + "/model.h5", d() + "/straight" + trial + "/model.h5"))
        << trial;
  }
}

// A trial process stopped from outside (SIGTERM, as Ctrl-C or a scheduler would) is not a failed
// trial: the search stops saying so, and the same command continues it.
TEST_F(CliTuning, AnInterruptedTrialIsResumedNotFailed) {
  const std::string dir = d() + "/interrupted";
  const std::vector<std::string> args = {"search",
                                         d() + "/train.h5",
                                         "--validation-split",
                                         "0.25",
                                         "--batch-size",
                                         "8",
                                         "--epochs",
                                         "4",
                                         "--strategy",
                                         "grid",
                                         "--param",
                                         "optimizer.lr=[0.01, 0.02]",
                                         "--run-dir",
                                         dir};
  const pid_t search = testing::spawn_kiln(args);
  ASSERT_GE(search, 0);
  for (int i = 0; i < 40000 && !std::filesystem::exists(dir + "/trial-001/checkpoint.h5"); ++i) {
    usleep(500);
  }
  // This search's trial only (its folder is unique): ctest runs other searches at the same time.
  // The bracket keeps pkill from matching the shell that runs it.
  testing::kiln_shell("pkill -TERM -f '" + dir + "/trial-00[1]/config.json'");
  int status = 0;
  waitpid(search, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "the search itself was killed";
  // Whatever the timing, a stopped trial is never recorded as failed.
  const std::vector<Row> stopped = read_rows(dir + "/trials.csv");
  for (const Row& t : stopped) {
    EXPECT_NE(t.at("status"), "failed") << "trial " << t.at("trial") << ": " << t.at("reason");
  }
  if (WEXITSTATUS(status) == 0) {
    // Trial 1 ended before the signal reached it, so the search ran to its end.
    for (const Row& t : stopped) EXPECT_EQ(t.at("status"), "finished") << t.at("trial");
    return;
  }
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_EQ(stopped[0].at("status"), "running");
  const Invocation resumed = kiln(quoted_words(args));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  const std::vector<Row> trials = read_rows(dir + "/trials.csv");
  EXPECT_EQ(trials[0].at("status"), "finished");
  EXPECT_EQ(trials[1].at("status"), "finished");
}

TEST_F(CliTuning, TrialsCanBeScoredByCrossValidation) {
  const std::string dir = d() + "/cv";
  const Invocation run = kiln("search " + d() + "/train.h5 --folds 3 --epochs 1 --run-dir " + dir +
                              " --strategy grid --param 'optimizer.lr=[0.01, 0.1]' --parallel 2");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const std::vector<Row> trials = read_rows(dir + "/trials.csv");
  ASSERT_EQ(trials.size(), 2u);
  for (const Row& t : trials) {
    char folder[32];
    std::snprintf(folder, sizeof folder, "/trial-%03d", std::stoi(t.at("trial")));
    const std::vector<Row> cv = read_rows(dir + folder + "/cv.csv");
    ASSERT_EQ(cv.size(), 5u);  // 3 folds, mean, std
    EXPECT_EQ(cv[3].at("fold"), "mean");
    EXPECT_NEAR(std::stod(t.at("val_accuracy")), std::stod(cv[3].at("val_accuracy")), 1e-5);
  }
  // best.json trains one model on all the data.
  EXPECT_EQ(pipeline::load_config_file(dir + "/best.json")["data"]["folds"], 0);
}

TEST_F(CliTuning, FoldsTrainOneModelPerFoldAndReportMeanAndSpread) {
  const std::string run_dir = d() + "/cv";
  const Invocation run = kiln("train " + d() + "/train.h5 --folds 4 --epochs 2 --run-dir " +
                              run_dir + " --stop-after 1");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("paused after epoch 1 of 2"), std::string::npos) << run.output;
  const Invocation resumed = kiln("train --resume " + run_dir);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  const std::vector<Row> cv = read_rows(run_dir + "/cv.csv");
  ASSERT_EQ(cv.size(), 6u);
  double sum = 0;
  for (int f = 1; f <= 4; ++f) {
    const std::string fold = run_dir + "/fold-" + std::to_string(f);
    const io::LogTable log = io::read_csv_log(fold + "/log.csv");
    EXPECT_NEAR(std::stod(cv[static_cast<std::size_t>(f - 1)].at("val_accuracy")),
                log.at_epoch(2, "val_accuracy"), 1e-5);
    sum += log.at_epoch(2, "val_accuracy");
    // Each fold's own config names its fold, so kiln train --resume FOLD works on its own too.
    EXPECT_EQ(pipeline::load_config_file(fold + "/config.json")["data"]["fold"], f);
  }
  EXPECT_NEAR(std::stod(cv[4].at("val_accuracy")), sum / 4, 1e-5);
  EXPECT_EQ(cv[4].at("fold"), "mean");
  // Paused after epoch 1 and resumed: the same models as folds trained straight through.
  const Invocation straight =
      kiln("train " + d() + "/train.h5 --folds 4 --epochs 2 --run-dir " + d() + "/straight");
  ASSERT_EQ(straight.exit_code, 0) << straight.output;
  for (int f = 1; f <= 4; ++f) {
    const std::string fold = "/fold-" + std::to_string(f) + "/model.h5";
    EXPECT_TRUE(same_weights(run_dir + fold, d() + "/straight" + fold)) << fold;
  }
  const Invocation both =
      kiln("train " + d() + "/train.h5 --folds 4 --validation-split 0.2 -o " + d() + "/m.h5");
  EXPECT_EQ(both.exit_code, 2) << both.output;
  EXPECT_NE(both.output.find("data.folds"), std::string::npos) << both.output;
}

TEST_F(CliTuning, StopAfterThenResumeEqualsOneRun) {
  const std::string args = " --epochs 3 --flip 0.5 --lr-schedule cosine --seed 2";
  ASSERT_EQ(kiln("train " + d() + "/train.h5 --run-dir " + d() + "/straight" + args).exit_code, 0);
  const std::string run = d() + "/pieces";
  const Invocation first =
      kiln("train " + d() + "/train.h5 --run-dir " + run + args + " --stop-after 2");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("continue with: kiln train --resume " + run), std::string::npos)
      << first.output;
  EXPECT_FALSE(std::filesystem::exists(run + "/model.h5"));
  EXPECT_EQ(io::load_model(run + "/checkpoint.h5").train_state.epoch, 2);
  const Invocation again = kiln("train --resume " + run + " --stop-after 1");
  EXPECT_EQ(again.exit_code, 2) << again.output;
  ASSERT_EQ(kiln("train --resume " + run).exit_code, 0);
  EXPECT_TRUE(same_weights(run + "/model.h5", d() + "/straight/model.h5"));
}

// --diagnostics N: a CSV row per layer and record, the chart, a warning naming a sick layer, and
// the very weights of a run without them.
TEST_F(CliTuning, DiagnosticsChangeNothingAndNameSickLayers) {
  const std::string args = " --epochs 2 --flip 0.5 --batch-size 16 --seed 3";
  ASSERT_EQ(kiln("train " + d() + "/train.h5 --run-dir " + d() + "/plain" + args).exit_code, 0);
  const Invocation run =
      kiln("train " + d() + "/train.h5 --run-dir " + d() + "/diag --diagnostics 5" + args);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(same_weights(d() + "/diag/model.h5", d() + "/plain/model.h5"));
  const io::LogTable table = io::read_csv_log(d() + "/diag/diagnostics.csv");
  // 2 epochs of 25 steps, the first and every 5th: 11 records of every layer of the mlp.
  const std::vector<double> step_column = table.column("step");
  const std::set<double> steps(step_column.begin(), step_column.end());
  EXPECT_EQ(steps, (std::set<double>{1, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50}));
  EXPECT_EQ(table.rows.size(), 11u * io::load_model(d() + "/diag/model.h5").model.size());
  EXPECT_EQ(table.columns.back(), "update_ratio");
  EXPECT_FALSE(cv::imread(d() + "/diag/diagnostics.png").empty());

  std::ofstream(d() + "/zeros.json") << R"({"model": {"layers": [
      {"type": "flatten"}, {"type": "dense", "units": 16, "init": "zeros"}, {"type": "relu"},
      {"type": "dense", "units": 4, "init": "zeros"}]}})";
  const Invocation sick =
      kiln("train " + d() + "/train.h5 --config " + d() +
           "/zeros.json --epochs 1 --batch-size 16 --diagnostics 5 --run-dir " + d() + "/z");
  ASSERT_EQ(sick.exit_code, 0) << sick.output;
  EXPECT_NE(sick.output.find("kiln train: warning: dead ReLUs"), std::string::npos) << sick.output;
  EXPECT_NE(sick.output.find("relu_1 (100%)"), std::string::npos) << sick.output;
  const Invocation no_dir = kiln("train " + d() + "/train.h5 -o " + d() + "/m.h5 --diagnostics 5");
  EXPECT_EQ(no_dir.exit_code, 2) << no_dir.output;
}

// --filters: one tile per filter, each stretched to its own range (the largest weight white, the
// smallest black); --activations: a tile per channel of the layer's output for one image.
TEST_F(CliTuning, InspectDrawsFiltersAndFeatureMaps) {
  std::ofstream(d() + "/cnn.json") << R"({"model": {"layers": [
      {"type": "conv2d", "filters": 5, "kernel_size": 3}, {"type": "relu"},
      {"type": "flatten"}, {"type": "dense", "units": 4}]}})";
  ASSERT_EQ(kiln("train " + d() + "/train.h5 --config " + d() + "/cnn.json --epochs 1 -o " + d() +
                 "/cnn.h5")
                .exit_code,
            0);
  const Invocation filters = kiln("inspect " + d() + "/cnn.h5 --filters " + d() + "/f.png");
  ASSERT_EQ(filters.exit_code, 0) << filters.output;
  const cv::Mat grid = cv::imread(d() + "/f.png", cv::IMREAD_GRAYSCALE);
  // 5 filters of 3x3 on one channel: 3 columns, 2 rows of 24-pixel tiles (8x), 2-pixel gaps.
  ASSERT_EQ(grid.cols, 3 * 26 + 2);
  ASSERT_EQ(grid.rows, 2 * 26 + 2);
  io::ModelBundle model = io::load_model(d() + "/cnn.h5");
  const auto w = model.model.layer(0).parameters().at(0)->value.span();  // filter 0: w[0..8]
  const auto [lo, hi] = std::minmax_element(w.begin(), w.begin() + 9);
  auto pixel_of = [&](std::ptrdiff_t k) {  // the middle of weight k's 8x8 block in tile 0
    return grid.at<std::uint8_t>(2 + 8 * static_cast<int>(k / 3) + 4,
                                 2 + 8 * static_cast<int>(k % 3) + 4);
  };
  EXPECT_EQ(pixel_of(hi - w.begin()), 255);
  EXPECT_EQ(pixel_of(lo - w.begin()), 0);

  cv::Mat image(8, 8, CV_8U);
  cv::randu(image, 0, 255);
  cv::imwrite(d() + "/one.png", image);
  const Invocation maps = kiln("inspect " + d() + "/cnn.h5 --activations " + d() +
                               "/one.png --layer conv2d_1 -o " + d() + "/maps.png");
  ASSERT_EQ(maps.exit_code, 0) << maps.output;
  const cv::Mat tiles = cv::imread(d() + "/maps.png", cv::IMREAD_GRAYSCALE);
  // 5 maps of 6x6, enlarged 8x to 48: 3 columns, 2 rows.
  EXPECT_EQ(tiles.cols, 3 * 50 + 2);
  EXPECT_EQ(tiles.rows, 2 * 50 + 2);
  const Invocation wrong = kiln("inspect " + d() + "/cnn.h5 --activations " + d() +
                                "/one.png --layer conv9 -o " + d() + "/x.png");
  EXPECT_EQ(wrong.exit_code, 1) << wrong.output;
  EXPECT_NE(wrong.output.find("no layer 'conv9'; its layers: conv2d_1"), std::string::npos)
      << wrong.output;
  EXPECT_EQ(kiln("inspect " + d() + "/train.h5 --filters " + d() + "/y.png").exit_code, 2);
}

// kiln report --watch: while a run trains the page reloads itself; once every run has ended the
// command stops and the page no longer reloads.
TEST_F(CliTuning, ReportWatchRefreshesWhileARunTrains) {
  if (!std::filesystem::exists("/usr/share/javascript/chart.js/chart.min.js")) {
    GTEST_SKIP() << "Chart.js is not installed: apt-get install libjs-chart.js";
  }
  const std::string run = d() + "/run", page = d() + "/report.html";
  ASSERT_EQ(kiln("train " + data() + "--epochs 2 --stop-after 1 --run-dir " + run).exit_code, 0);
  const pid_t watch =
      testing::spawn_kiln({"report", run, "-o", page, "--watch", "--interval", "0.2"});
  ASSERT_GE(watch, 0);
  for (int i = 0; i < 10000 && !std::filesystem::exists(page); ++i) usleep(1000);
  EXPECT_NE(text_of(page).find("http-equiv=\"refresh\""), std::string::npos);
  ASSERT_EQ(kiln("train --resume " + run).exit_code, 0);
  int status = -1;
  for (int i = 0; i < 200 && waitpid(watch, &status, WNOHANG) == 0; ++i) usleep(50000);
  if (!WIFEXITED(status)) kill(watch, SIGKILL);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "--watch did not stop";
  const std::string last = text_of(page);
  EXPECT_EQ(last.find("http-equiv=\"refresh\""), std::string::npos);
  EXPECT_NE(last.find("\"status\":\"finished\""), std::string::npos);

  std::filesystem::create_directories(d() + "/empty");
  const Invocation nothing = kiln("report " + d() + "/empty -o " + d() + "/x.html");
  EXPECT_EQ(nothing.exit_code, 1) << nothing.output;
  EXPECT_NE(nothing.output.find("holds no kiln run"), std::string::npos) << nothing.output;
}

}  // namespace
}  // namespace kiln
