// The kiln binary as a user meets it: help, errors on the command line, and a whole run.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "tests/support/idx_files.hpp"
#include "tests/support/temp_dir.hpp"

namespace kiln {
namespace {

struct Invocation {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

Invocation kiln(const std::string& args) {
  const std::string cmd = std::string(KILN_BINARY) + " " + args + " 2>&1";
  Invocation run;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return run;
  char buffer[4096];
  while (fgets(buffer, sizeof buffer, pipe)) run.output += buffer;
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

int lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

TEST(Cli, HelpListsTheSubcommands) {
  const Invocation r = kiln("--help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* sub : {"preprocess", "train", "evaluate"}) {
    EXPECT_NE(r.output.find(sub), std::string::npos) << sub;
  }
}

TEST(Cli, EverySubcommandDescribesItsFlags) {
  EXPECT_NE(kiln("preprocess --help").output.find("--labels"), std::string::npos);
  const Invocation train = kiln("train --help");
  EXPECT_EQ(train.exit_code, 0);
  for (const char* flag :
       {"--epochs", "--batch-size", "--lr", "--momentum", "--seed", "--flip", "--validation"}) {
    EXPECT_NE(train.output.find(flag), std::string::npos) << flag;
  }
  EXPECT_NE(kiln("evaluate --help").output.find("--batch-size"), std::string::npos);
}

TEST(Cli, WrongFlagIsOneLineAndNonZero) {
  testing::TempDir dir;
  const Invocation r = kiln("train " + std::string(KILN_BINARY) + " -o x.h5 --epochz 3");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find("--epochz"), std::string::npos) << r.output;
}

TEST(Cli, UnknownTopLevelFlagAndMissingSubcommandAreNamed) {
  const Invocation bogus = kiln("--bogus");
  EXPECT_EQ(bogus.exit_code, 2);
  EXPECT_EQ(lines(bogus.output), 1) << bogus.output;
  EXPECT_NE(bogus.output.find("--bogus"), std::string::npos) << bogus.output;
  const Invocation bare = kiln("");
  EXPECT_EQ(bare.exit_code, 2);
  EXPECT_NE(bare.output.find("subcommand"), std::string::npos) << bare.output;
  const Invocation negative = kiln("train " + std::string(KILN_BINARY) + " -o x.h5 --lr -1");
  EXPECT_EQ(negative.exit_code, 2);
  EXPECT_NE(negative.output.find("--lr: must be a number > 0, got -1"), std::string::npos)
      << negative.output;
}

TEST(Cli, MissingFileIsOneLineNamingIt) {
  const Invocation r = kiln("evaluate /nonexistent/model.h5 /nonexistent/data.h5");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find("/nonexistent/model.h5"), std::string::npos) << r.output;
}

TEST(Cli, BadDataFileIsOneLineNamingIt) {
  testing::TempDir dir;
  std::FILE* f = std::fopen(dir.file("junk.gz").c_str(), "w");
  std::fputs("not an idx file at all", f);
  std::fclose(f);
  const Invocation r = kiln("preprocess " + dir.file("junk.gz") + " --labels " +
                            dir.file("junk.gz") + " -o " + dir.file("out.h5"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find("junk.gz"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("out.h5")));
}

TEST(Cli, PreprocessTrainEvaluate) {
  testing::TempDir dir;
  const std::string d = dir.path().string();
  auto [train_images, train_labels] = testing::write_synthetic_idx(d, "train", 400, 8, 8, 4, 1);
  auto [test_images, test_labels] = testing::write_synthetic_idx(d, "test", 100, 8, 8, 4, 2);
  ASSERT_EQ(
      kiln("preprocess " + train_images + " --labels " + train_labels + " -o " + d + "/train.h5")
          .exit_code,
      0);
  ASSERT_EQ(kiln("preprocess " + test_images + " --labels " + test_labels + " -o " + d + "/test.h5")
                .exit_code,
            0);
  const Invocation train = kiln("train " + d + "/train.h5 --validation " + d + "/test.h5 -o " + d +
                                "/model.h5 --epochs 2 --batch-size 32 --flip 0.5");
  ASSERT_EQ(train.exit_code, 0) << train.output;
  EXPECT_NE(train.output.find("epoch 2/2"), std::string::npos) << train.output;
  const Invocation eval = kiln("evaluate " + d + "/model.h5 " + d + "/test.h5");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  const auto at = eval.output.find("accuracy ");
  ASSERT_NE(at, std::string::npos) << eval.output;
  EXPECT_GT(std::stod(eval.output.substr(at + 9)), 0.9) << eval.output;
}

}  // namespace
}  // namespace kiln
