// kiln under mpirun, as a user runs it: data-parallel training gives the weights and logs of one
// process whatever the rank and thread counts, a checkpoint moves between rank counts, a killed
// rank ends the job and its run resumes, and sharded evaluation reports one process's figures.
// Ranks are oversubscribed on the test machine's cores.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "io/model_file.hpp"
#include "io/run_files/csv_log.hpp"
#include "tests/support/idx_files.hpp"
#include "tests/support/image_files.hpp"
#include "tests/support/run_kiln.hpp"
#include "tests/support/temp_dir.hpp"

namespace kiln {
namespace {

using testing::Invocation;
using testing::kiln;
using testing::kiln_shell;

// mpirun as root needs both variables. Under the sanitizer build the ranks keep AddressSanitizer
// and UBSan but not LeakSanitizer: OpenMPI leaves allocations in components it has unloaded by
// exit, which LeakSanitizer can neither name nor be told to ignore.
const char* kLauncherEnvironment =
    "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
    "ASAN_OPTIONS=\"${ASAN_OPTIONS:-}:detect_leaks=0\" ";

// --oversubscribe lets 4 ranks share 2 cores; -q keeps mpirun's own notes out, so the output is
// kiln's.
std::string mpirun(int ranks, bool quiet = true) {
  return std::string(kLauncherEnvironment) + "mpirun " + (quiet ? "-q " : "") +
         "--oversubscribe -np " + std::to_string(ranks) + " " + KILN_BINARY + " ";
}

bool same_state(const std::string& a, const std::string& b) {
  io::ModelBundle x = io::load_model(a), y = io::load_model(b);
  const auto tx = x.model.state_tensors(), ty = y.model.state_tensors();
  if (tx.size() != ty.size()) return false;
  for (std::size_t i = 0; i < tx.size(); ++i) {
    if (!std::equal(tx[i]->span().begin(), tx[i]->span().end(), ty[i]->span().begin(),
                    ty[i]->span().end())) {
      return false;
    }
  }
  return true;
}

// The child of mpirun (`launcher`) that is rank `rank`, read from its environment as OpenMPI sets
// it (OMPI_COMM_WORLD_RANK); 0 when none is.
pid_t child_with_rank(pid_t launcher, int rank) {
  const Invocation children = kiln_shell("pgrep -P " + std::to_string(launcher));
  std::istringstream pids(children.output);
  const std::string wanted = "OMPI_COMM_WORLD_RANK=" + std::to_string(rank);
  for (pid_t pid = 0; pids >> pid;) {
    std::ifstream environ("/proc/" + std::to_string(pid) + "/environ");
    for (std::string entry; std::getline(environ, entry, '\0');) {
      if (entry == wanted) return pid;
    }
  }
  return 0;
}

// waitpid with a deadline: the child's status, or nothing when it is still running at `limit`.
std::optional<int> wait_at_most(pid_t child, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(child, &status, WNOHANG) == child) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return std::nullopt;
}

// log.csv without the columns that measure time.
std::vector<std::vector<std::string>> figures(const std::string& path) {
  const io::LogTable table = io::read_csv_log(path);
  std::vector<std::vector<std::string>> rows;
  for (const auto& cells : table.cells) {
    std::vector<std::string> row;
    for (std::size_t i = 0; i < table.columns.size(); ++i) {
      const std::string& c = table.columns[i];
      if (c != "seconds" && c != "images_per_second") row.push_back(c + "=" + cells[i]);
    }
    rows.push_back(row);
  }
  return rows;
}

class DataParallel : public ::testing::Test {
 protected:
  void SetUp() override {
    auto [images, labels] = testing::write_synthetic_idx(d(), "train", 600, 12, 12, 4, 5);
    ASSERT_EQ(
        kiln("preprocess " + images + " --labels " + labels + " -o " + d() + "/train.h5").exit_code,
        0);
    // Batch norm, dropout, augmentation, mixup and cutmix over micro-batches, soft weighted
    // targets and a per-step schedule: every source of a rank-dependent result there is.
    std::ofstream(d() + "/config.json") << R"({
      "data": {"train": ")" + d() + R"(/train.h5", "validation_split": 0.2},
      "model": {"layers": [
        {"type": "conv2d", "filters": 6, "kernel_size": 3, "padding": "same"},
        {"type": "batch_norm"}, {"type": "relu"}, {"type": "max_pool2d", "pool_size": 2},
        {"type": "dropout", "rate": 0.3}, {"type": "flatten"}, {"type": "dense", "units": 4}]},
      "augment": [{"type": "horizontal_flip"}, {"type": "pad_crop", "padding": 2},
                  {"type": "mixup_cutmix", "mixup_alpha": 0.4, "cutmix_alpha": 1.0}],
      "loss": {"label_smoothing": 0.1, "class_weights": "auto"},
      "schedule": "cosine+warmup:0.5",
      "epochs": 2, "batch_size": 40, "micro_batch_size": 10, "seed": 7})";
  }
  std::string d() const { return dir_.path().string(); }
  std::string train(const std::string& run_dir) const {
    return "train --config " + d() + "/config.json --run-dir " + d() + "/" + run_dir + " ";
  }
  std::string model(const std::string& run_dir) const { return d() + "/" + run_dir + "/model.h5"; }
  testing::TempDir dir_;
};

TEST_F(DataParallel, SameWeightsAndLogsOnAnyRankAndThreadCount) {
  const Invocation solo = kiln(train("solo") + "--threads 1");
  ASSERT_EQ(solo.exit_code, 0) << solo.output;
  struct Setup {
    int ranks, threads;
  };
  for (const Setup s : {Setup{1, 2}, Setup{2, 1}, Setup{2, 2}, Setup{4, 1}, Setup{4, 2}}) {
    const std::string name = "r" + std::to_string(s.ranks) + "t" + std::to_string(s.threads);
    const Invocation run =
        kiln_shell(mpirun(s.ranks) + train(name) + "--threads " + std::to_string(s.threads));
    ASSERT_EQ(run.exit_code, 0) << name << "\n" << run.output;
    EXPECT_TRUE(same_state(model("solo"), model(name))) << name;
    // Training and (sharded) validation figures alike, to the last digit printed.
    EXPECT_EQ(figures(d() + "/solo/log.csv"), figures(d() + "/" + name + "/log.csv")) << name;
    // Printed once, by rank 0.
    if (s.ranks > 1) {
      EXPECT_NE(run.output.find("Data-parallel on " + std::to_string(s.ranks) + " MPI ranks"),
                std::string::npos);
      std::size_t lines = 0;
      for (std::size_t at = run.output.find("epoch 2/2  loss"); at != std::string::npos;
           at = run.output.find("epoch 2/2  loss", at + 1)) {
        ++lines;
      }
      EXPECT_EQ(lines, 1u) << run.output;
    }
  }
}

TEST_F(DataParallel, MicroBatchesAreNotTheWholeBatch) {
  // The micro-batch size is part of the result (batch norm sees micro-batches): a run with one
  // micro-batch per step differs, so the test above compares something.
  ASSERT_EQ(kiln(train("micro") + "--threads 1").exit_code, 0);
  ASSERT_EQ(kiln(train("whole") + "--threads 1 --micro-batch-size 40").exit_code, 0);
  EXPECT_FALSE(same_state(model("micro"), model("whole")));
}

TEST_F(DataParallel, CheckpointOfTwoRanksResumesOnOneAndOnFour) {
  ASSERT_EQ(kiln(train("straight")).exit_code, 0);
  for (const int resume_ranks : {1, 4}) {
    const std::string name = "paused-" + std::to_string(resume_ranks);
    const Invocation paused = kiln_shell(mpirun(2) + train(name) + "--stop-after 1");
    ASSERT_EQ(paused.exit_code, 0) << paused.output;
    ASSERT_FALSE(std::filesystem::exists(model(name)));
    const std::string resume = "train --resume " + d() + "/" + name;
    const Invocation resumed =
        resume_ranks == 1 ? kiln(resume) : kiln_shell(mpirun(resume_ranks) + resume);
    ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
    // A silent restart would give the same weights: the run must pick up at epoch 2.
    EXPECT_NE(resumed.output.find(" at epoch 2\n"), std::string::npos) << resumed.output;
    EXPECT_TRUE(same_state(model("straight"), model(name))) << name;
  }
}

TEST_F(DataParallel, AKilledRankEndsTheJobWhichResumesOnAnotherRankCount) {
  // Long enough to be killed mid-epoch: many small steps, a checkpoint every 5.
  const std::string longer = "--epochs 3 --batch-size 8 --micro-batch-size 4 --checkpoint-every 5 ";
  ASSERT_EQ(kiln(train("straight") + longer).exit_code, 0);
  const std::string log = d() + "/killed.out";
  const std::string job = mpirun(2, false) + train("killed") + longer + "> " + log + " 2>&1";
  const pid_t launcher = fork();
  if (launcher == 0) {
    execl("/bin/sh", "sh", "-c", ("exec " + job).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const std::string checkpoint = d() + "/killed/checkpoint.h5";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!std::filesystem::exists(checkpoint) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(std::filesystem::exists(checkpoint));
  const pid_t rank1 = child_with_rank(launcher, 1);
  ASSERT_GT(rank1, 0) << "no child of mpirun has OMPI_COMM_WORLD_RANK=1";
  ::kill(rank1, SIGKILL);
  // A hang guard, not a speed claim: mpirun must end the job, however slow the build.
  const std::optional<int> status = wait_at_most(launcher, std::chrono::seconds(120));
  if (!status) {
    ::kill(launcher, SIGKILL);
    waitpid(launcher, nullptr, 0);
    FAIL() << "the job went on for 120 s after rank 1 was killed";
  }
  const int st = *status;
  EXPECT_FALSE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  EXPECT_FALSE(std::filesystem::exists(model("killed")));
  std::ifstream in(log);
  const std::string output{std::istreambuf_iterator<char>(in), {}};
  // mpirun's note names the rank and the cause.
  EXPECT_NE(output.find("rank 1"), std::string::npos) << output;
  EXPECT_NE(output.find("signal 9"), std::string::npos) << output;
  // The last checkpoint was a good one: resumed on one process, the run ends as if never killed.
  const nn::TrainState killed_at = io::load_model(checkpoint).train_state;
  const Invocation resumed = kiln("train --resume " + d() + "/killed");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("Resuming"), std::string::npos) << resumed.output;
  EXPECT_NE(resumed.output.find("epoch " + std::to_string(killed_at.epoch + 1)), std::string::npos)
      << resumed.output;
  EXPECT_TRUE(same_state(model("straight"), model("killed")));
}

std::string text_of(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

// kiln evaluate's printed figures: without the rates and the report folder's name.
std::string figures_printed(const std::string& output) {
  const std::string no_rates = std::regex_replace(output, std::regex("[0-9]+ images/s"), "");
  return std::regex_replace(no_rates, std::regex("report: [^\n]*"), "");
}

TEST_F(DataParallel, ShardedEvaluationReportsOneProcesssFigures) {
  ASSERT_EQ(kiln(train("a") + "--epochs 1").exit_code, 0);
  ASSERT_EQ(kiln(train("b") + "--epochs 1 --seed 8").exit_code, 0);
  // Batches of 48 rows: 10 views of 4 images; 600 images make 150 batches over the ranks.
  const std::string args = "evaluate " + model("a") + " " + model("b") + " " + d() +
                           "/train.h5 --crops 10 --compare --batch-size 48 --report ";
  const Invocation solo = kiln(args + d() + "/report-1");
  ASSERT_EQ(solo.exit_code, 0) << solo.output;
  for (const int ranks : {2, 4}) {
    const std::string report = d() + "/report-" + std::to_string(ranks);
    const Invocation run = kiln_shell(mpirun(ranks) + args + report);
    ASSERT_EQ(run.exit_code, 0) << run.output;
    EXPECT_EQ(figures_printed(run.output), figures_printed(solo.output)) << ranks;
    for (const char* file : {"confusion.csv", "per_class.csv", "predictions.csv"}) {
      EXPECT_EQ(text_of(report + "/" + file), text_of(d() + "/report-1/" + file)) << file;
    }
  }
}

// A folder of 47 photos of assorted sizes (PNG and JPEG), one of them broken.
class ShardedPreprocess : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* label : {"cat", "dog"}) {
      std::filesystem::create_directories(d() + "/photos/" + label);
      for (int i = 0; i < 23; ++i) {
        const cv::Mat image = testing::pattern_bgr(20 + (i * 7) % 31, 18 + (i * 11) % 37);
        const std::string ext = i % 3 == 0 ? ".png" : ".jpg";
        testing::write_bytes(d() + "/photos/" + label + "/" + std::to_string(100 + i) + ext,
                             testing::encode(image, ext));
      }
    }
    testing::write_bytes(d() + "/photos/dog/broken.jpg", {0xff, 0xd8, 0xff, 0xe0, 1, 2, 3});
  }
  std::string d() const { return dir_.path().string(); }
  // Equal through h5py: every array, statistic and attribute but the command line.
  Invocation same_h5(const std::string& a, const std::string& b) const {
    return kiln_shell("/usr/bin/python3 " KILN_TEST_SOURCE_DIR "/support/same_h5.py " + a + " " +
                      b + " --ignore @/command_line");
  }
  testing::TempDir dir_;
};

TEST_F(ShardedPreprocess, AnyRankCountWritesTheFileOneProcessWrites) {
  if (kiln_shell("/usr/bin/python3 -c 'import h5py'").exit_code != 0) {
    GTEST_SKIP() << "needs python3-h5py (scripts/install-deps.sh)";
  }
  for (const std::string storage : {"--size 16x16", "--short-side 24 --store jpeg"}) {
    const std::string args = "preprocess " + d() + "/photos " + storage + " --quiet -o ";
    const std::string one = d() + "/one.h5";
    ASSERT_EQ(kiln(args + one).exit_code, 0);
    for (const int ranks : {2, 3, 4}) {
      const std::string many = d() + "/many-" + std::to_string(ranks) + ".h5";
      const Invocation run = kiln_shell(mpirun(ranks) + args + many);
      ASSERT_EQ(run.exit_code, 0) << run.output;
      const Invocation compared = same_h5(one, many);
      EXPECT_EQ(compared.exit_code, 0) << storage << ", " << ranks << " ranks\n" << compared.output;
      // The broken photo is reported once, by rank 0, and no shard is left behind.
      EXPECT_EQ(run.output.find("broken.jpg"), run.output.rfind("broken.jpg")) << run.output;
      for (const auto& entry : std::filesystem::directory_iterator(d())) {
        EXPECT_EQ(entry.path().string().find(".shard-"), std::string::npos) << entry.path();
      }
    }
    std::filesystem::remove(one);
  }
}

TEST_F(ShardedPreprocess, FailOnAnyRankLeavesNoFileAndNoShard) {
  // broken.jpg sorts after the numbered dogs: the last rank's slice holds it.
  const Invocation run = kiln_shell(mpirun(3) + "preprocess " + d() +
                                    "/photos --size 16x16 --on-error fail -o " + d() + "/out.h5");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.output.find("broken.jpg"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("--on-error fail"), std::string::npos) << run.output;
  for (const auto& entry : std::filesystem::directory_iterator(d())) {
    EXPECT_EQ(entry.path().filename(), "photos") << entry.path();
  }
}

TEST_F(DataParallel, AnErrorOnOneRankEndsEveryRankNamingIt) {
  // mpirun's MPMD form gives rank 1 a mistake rank 0 does not make: rank 0 goes on to its first
  // step and waits there for rank 1, which must end the job rather than leave it hanging.
  // timeout(1) is a hang guard, not a speed claim: it exits 124 when the job outlives it.
  const std::string base = std::string(KILN_BINARY) + " " + train("mpmd");
  const Invocation run = kiln_shell(std::string(kLauncherEnvironment) +
                                    "timeout 120 mpirun -q --oversubscribe -np 1 " + base +
                                    " : -np 1 " + base + "--epochs 0");
  EXPECT_NE(run.exit_code, 124) << "the job hung: rank 0 was left waiting for rank 1";
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.output.find("'epochs' must be an integer"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("(rank 1 of 2)"), std::string::npos) << run.output;
}

TEST_F(DataParallel, MistakesArePrintedOnceAndEndEveryRank) {
  const Invocation bad = kiln_shell(mpirun(2) + train("bad") + "--micro-batch-size 7");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("'micro_batch_size' 7 does not divide 'batch_size' 40"),
            std::string::npos)
      << bad.output;
  EXPECT_EQ(bad.output.find("rank 1 of 2"), std::string::npos) << bad.output;
  // One micro-batch per step for two ranks: it trains, and says how to use both.
  const Invocation idle =
      kiln_shell(mpirun(2) + train("idle") + "--epochs 1 --micro-batch-size 40");
  EXPECT_EQ(idle.exit_code, 0) << idle.output;
  EXPECT_NE(idle.output.find("1 rank(s) wait idle; set --micro-batch-size 20"), std::string::npos)
      << idle.output;
  const Invocation single = kiln_shell(mpirun(2) + "inspect " + d() + "/train.h5");
  EXPECT_NE(single.exit_code, 0);
  EXPECT_NE(single.output.find("kiln inspect runs in one process; run it without mpirun"),
            std::string::npos)
      << single.output;
}

}  // namespace
}  // namespace kiln
