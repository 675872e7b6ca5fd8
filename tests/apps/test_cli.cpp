// The kiln binary as a user meets it: help, errors on the command line, and a whole run.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sstream>
#include <string>

#include "io/model_file.hpp"
#include "nn/json.hpp"
#include "nn/layers/registry.hpp"
#include "pipeline/training/train_config.hpp"
#include "pipeline/transforms/registry.hpp"
#include "tests/support/idx_files.hpp"
#include "tests/support/image_files.hpp"
#include "tests/support/run_kiln.hpp"
#include "tests/support/temp_dir.hpp"

namespace kiln {
namespace {

using testing::Invocation;
using testing::kiln;
using testing::kiln_shell;
using testing::spawn_kiln;

// Two classes a network can tell apart, 20 images each: dark and bright noise, as PNG files
// root/{dark,bright}/<prefix><i>.png of the size size_of(i).
template <class SizeOf>
void write_dark_and_bright_photos(const std::filesystem::path& root, const std::string& prefix,
                                  SizeOf size_of) {
  for (int i = 0; i < 40; ++i) {
    const bool bright = i % 2 == 1;
    const auto folder = root / (bright ? "bright" : "dark");
    std::filesystem::create_directories(folder);
    cv::Mat image(size_of(i), CV_8UC3);
    cv::randu(image, cv::Scalar::all(bright ? 150 : 0), cv::Scalar::all(bright ? 255 : 105));
    testing::write_bytes((folder / (prefix + std::to_string(i) + ".png")).string(),
                         testing::encode(image, ".png"));
  }
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

// The version is written once, in project(kiln VERSION ...); the binary reports that one.
TEST(Cli, VersionIsTheProjectVersion) {
  const Invocation r = kiln("--version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output, std::string("kiln ") + KILN_PROJECT_VERSION + "\n");
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
  for (const char* command : {"preprocess", "inspect", "train", "evaluate", "predict", "fit",
                              "augment-preview", "bench"}) {
    EXPECT_NE(bare.output.find(command), std::string::npos) << command << ": " << bare.output;
  }
  const Invocation negative = kiln("train " + std::string(KILN_BINARY) + " -o x.h5 --lr -1");
  EXPECT_EQ(negative.exit_code, 2);
  EXPECT_NE(negative.output.find("--lr -1: 'optimizer.lr' must be a number in"), std::string::npos)
      << negative.output;
}

TEST(Cli, BadAugmentIsOneLine) {
  const Invocation bad_json = kiln("train " + std::string(KILN_BINARY) + " -o x.h5 --augment '[{'");
  EXPECT_NE(bad_json.exit_code, 0);
  EXPECT_EQ(lines(bad_json.output), 1) << bad_json.output;
  EXPECT_NE(bad_json.output.find("--augment"), std::string::npos) << bad_json.output;
}

// The exit-code rule: 1 for a bad or missing file (or a failed run), 2 for a usage or config
// mistake, whichever command and whichever way the mistake was made.
TEST(Cli, MissingFileIsOneLineNamingItAndExitsOne) {
  for (const std::string& command :
       {std::string("evaluate /nonexistent/model.h5 /nonexistent/data.h5"),
        std::string("train /nonexistent/model.h5 -o x.h5"),
        std::string("inspect /nonexistent/model.h5"),
        "train " + std::string(KILN_BINARY) + " -o x.h5 --config /nonexistent/model.h5"}) {
    const Invocation r = kiln(command);
    EXPECT_EQ(r.exit_code, 1) << command << ": " << r.output;
    EXPECT_EQ(lines(r.output), 1) << r.output;
    EXPECT_NE(r.output.find("/nonexistent/model.h5"), std::string::npos) << r.output;
  }
}

// Write failures: a file-size limit (as a full disk would) stops preprocess with one line naming
// the file and the cause, keeps the previous file and leaves no temporary behind; an output path
// that is a folder is refused before any work.
TEST(Cli, WriteFailuresNameTheFileAndKeepThePreviousOne) {
  testing::TempDir dir;
  auto [images, labels] =
      testing::write_synthetic_idx(dir.path().string(), "w", 3000, 28, 28, 4, 1);
  const std::string out = dir.file("out.h5");
  std::ofstream(out) << "previous";
  const std::string preprocess = "preprocess " + images + " --labels " + labels + " -o ";
  const Invocation limited =
      kiln_shell("ulimit -f 500; exec " + std::string(KILN_BINARY) + " " + preprocess + out);
  EXPECT_EQ(limited.exit_code, 1) << limited.output;
  EXPECT_EQ(lines(limited.output), 1) << limited.output;
  EXPECT_NE(limited.output.find("File too large"), std::string::npos) << limited.output;
  std::ifstream kept(out);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(kept), {}), "previous");
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().string().find(".tmp-"), std::string::npos) << entry.path();
  }
  std::filesystem::create_directory(dir.file("folder.h5"));
  for (const std::string& command :
       {preprocess + dir.file("folder.h5"),
        "train " + out + " -o " + dir.file("folder.h5") + " --epochs 1"}) {
    const Invocation r = kiln(command);
    EXPECT_EQ(r.exit_code, 1) << command;
    EXPECT_NE(r.output.find("folder.h5: is a folder"), std::string::npos) << r.output;
  }
  // A file where a folder of the output path must be: refused before any work (no epoch line).
  for (const std::string& command : {preprocess + images + "/sub/x.h5",
                                     "train " + out + " -o " + images + "/sub/m.h5 --epochs 1"}) {
    const Invocation r = kiln(command);
    EXPECT_EQ(r.exit_code, 1) << command;
    EXPECT_EQ(lines(r.output), 1) << r.output;
    EXPECT_NE(r.output.find(images + " is a file, not a folder"), std::string::npos) << r.output;
  }
}

// A folder the user may not write into is refused before any work. Root may write anywhere, so
// as root the command runs as the user nobody (where su exists).
TEST(Cli, AReadOnlyOutputFolderIsRefusedBeforeAnyWork) {
  testing::TempDir dir;
  auto [images, labels] = testing::write_synthetic_idx(dir.path().string(), "r", 50, 8, 8, 2, 1);
  const std::string locked = dir.file("locked");
  std::filesystem::create_directory(locked);
  namespace fs = std::filesystem;
  fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);
  fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                              fs::perms::group_exec | fs::perms::others_read |
                              fs::perms::others_exec);
  for (const std::string& file : {images, labels}) {
    fs::permissions(file, fs::perms::others_read, fs::perm_options::add);
  }
  std::string command = std::string(KILN_BINARY) + " preprocess " + images + " --labels " + labels +
                        " -o " + locked + "/out.h5";
  if (geteuid() == 0) {
    if (std::system("command -v su > /dev/null") != 0) GTEST_SKIP() << "root without su(1)";
    command = "su nobody -s /bin/sh -c '" + command + "'";
  }
  const Invocation r = kiln_shell(command);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find("out.h5: cannot write into " + locked + ": Permission denied"),
            std::string::npos)
      << r.output;
}

// kiln export writes a checked ONNX file beside a trained model, and names a missing one.
TEST(Cli, ExportWritesAnOnnxModel) {
  testing::TempDir dir;
  auto [images, labels] = testing::write_synthetic_idx(dir.path().string(), "t", 64, 12, 10, 4, 1);
  ASSERT_EQ(
      kiln("preprocess " + images + " --labels " + labels + " -o " + dir.file("d.h5")).exit_code,
      0);
  ASSERT_EQ(kiln("train " + dir.file("d.h5") + " -o " + dir.file("m.h5") + " --epochs 1").exit_code,
            0);
  const Invocation out =
      kiln("export " + dir.file("m.h5") + " -o " + dir.file("m.onnx") + " --include-preprocessing");
  ASSERT_EQ(out.exit_code, 0) << out.output;
  EXPECT_NE(out.output.find("uint8 pixels (N, 12, 10, 1)"), std::string::npos) << out.output;
  EXPECT_TRUE(std::filesystem::file_size(dir.file("m.onnx")) > 1000);
  const Invocation missing = kiln("export " + dir.file("none.h5") + " -o " + dir.file("x.onnx"));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.onnx")));

  // A one-channel network imports without --channel-order, as L; a wrong order is named. (A
  // square one: imported preprocessing is a resize and a square centre crop.)
  auto [square, square_labels] =
      testing::write_synthetic_idx(dir.path().string(), "sq", 64, 12, 12, 4, 2);
  ASSERT_EQ(kiln("preprocess " + square + " --labels " + square_labels + " -o " + dir.file("s.h5"))
                .exit_code,
            0);
  ASSERT_EQ(kiln("train " + dir.file("s.h5") + " -o " + dir.file("sq-model.h5") + " --epochs 1")
                .exit_code,
            0);
  const Invocation plain =
      kiln("export " + dir.file("sq-model.h5") + " -o " + dir.file("grey.onnx"));
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  const Invocation grey = kiln("import " + dir.file("grey.onnx") + " -o " + dir.file("grey.h5"));
  ASSERT_EQ(grey.exit_code, 0) << grey.output;
  EXPECT_EQ(io::load_model(dir.file("grey.h5")).preprocessing["normalization"]["channel_order"],
            "L");
  const Invocation wrong =
      kiln("import " + dir.file("grey.onnx") + " -o " + dir.file("x.h5") + " --channel-order RGB");
  EXPECT_EQ(wrong.exit_code, 2) << wrong.output;
  EXPECT_EQ(lines(wrong.output), 1) << wrong.output;
  EXPECT_NE(wrong.output.find("--channel-order RGB: the network takes 1 channels; use L"),
            std::string::npos)
      << wrong.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.h5")));
}

// `kiln train --keys` prints the config table: every key, its default and meaning.
// Stages and layer types in `kiln train --help` come from the registries.
TEST(Cli, TrainHelpListsEveryStageAndLayerType) {
  const Invocation r = kiln("train --help");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const std::string& name : pipeline::stage_names()) {
    EXPECT_NE(r.output.find(name + " {"), std::string::npos) << name;
  }
  for (const std::string& type : nn::layer_types()) {
    EXPECT_NE(r.output.find(type), std::string::npos) << type;
  }
  EXPECT_NE(r.output.find("blocks: residual"), std::string::npos) << r.output;
}

TEST(Cli, TrainKeysListsEveryConfigKey) {
  const Invocation r = kiln("train --keys");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const pipeline::ConfigKey& k : pipeline::train_config_keys()) {
    EXPECT_NE(r.output.find(k.key + " = " + k.default_value.dump()), std::string::npos) << k.key;
    EXPECT_NE(r.output.find(k.meaning), std::string::npos) << k.key;
  }
}

TEST(Cli, ConfigMistakesExitTwoWhereverTheyAreMade) {
  const std::string train = "train " + std::string(KILN_BINARY) + " -o x.h5 ";
  for (const std::string& args :
       {std::string("--set epoch=3"), std::string("--set batch_size=0"), std::string("--lr 0"),
        std::string("--model resnet"), std::string("--augment '[{\"type\": \"spin\"}]'"),
        std::string("--monitor val_loss")}) {
    const Invocation r = kiln(train + args + " --print-config");
    if (args == "--monitor val_loss" || args.find("spin") != std::string::npos) {
      // Accepted on its own; refused once the whole config is read (no validation data; an
      // unknown stage), still before any data is read.
      const Invocation run = kiln(train + args);
      EXPECT_EQ(run.exit_code, 2) << args << ": " << run.output;
      EXPECT_EQ(lines(run.output), 1) << run.output;
      continue;
    }
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.output;
    EXPECT_EQ(lines(r.output), 1) << r.output;
  }
  // A validation fraction out of range is a usage mistake for preprocess as for train, with the
  // same range.
  testing::TempDir dir;
  for (const char* fraction : {"1", "0.95"}) {
    const Invocation split = kiln("preprocess " + dir.path().string() + " -o " + dir.file("d.h5") +
                                  " --val-split " + fraction);
    EXPECT_EQ(split.exit_code, 2) << split.output;
    EXPECT_EQ(lines(split.output), 1) << split.output;
    const Invocation train_split =
        kiln(train + "--validation-split " + fraction + " --print-config");
    EXPECT_EQ(train_split.exit_code, 2) << train_split.output;
  }
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

// kiln decodes JPEG itself and loads OpenCV's codecs only when an image needs them
// (io/opencv_codecs.hpp): without the plugin a JPEG folder still preprocesses, and a PNG stops
// the run with an error that names the plugin, where it looked and how to point kiln at it.
TEST(Cli, OpenCvCodecsLoadOnlyWhenAnImageNeedsThem) {
  testing::TempDir dir;
  for (const char* ext : {".jpg", ".png"}) {
    for (const char* cls : {"a", "b"}) {
      const auto folder = dir.path() / (std::string(ext + 1) + "s") / cls;
      std::filesystem::create_directories(folder);
      cv::Mat image(24, 32, CV_8UC3, cv::Scalar(40, 90, *cls == 'a' ? 10 : 200));
      testing::write_bytes((folder / (std::string("image") + ext)).string(),
                           testing::encode(image, ext));
    }
  }
  const std::string missing = "KILN_OPENCV_CODECS=" + dir.file("nowhere/libkiln_opencv_codecs.so");
  const auto preprocess = [&](const std::string& env, const std::string& folder) {
    return kiln_shell(env + " " + KILN_BINARY + " preprocess " + dir.file(folder) +
                      " --size 16x16 --quiet -o " + dir.file(folder + ".h5"));
  };
  const Invocation jpeg = preprocess(missing, "jpgs");
  EXPECT_EQ(jpeg.exit_code, 0) << jpeg.output;
  const Invocation png = preprocess(missing, "pngs");
  EXPECT_EQ(png.exit_code, 1) << png.output;
  EXPECT_NE(png.output.find(dir.file("nowhere/libkiln_opencv_codecs.so")), std::string::npos)
      << png.output;
  EXPECT_NE(png.output.find("set KILN_OPENCV_CODECS"), std::string::npos) << png.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("pngs.h5")));
  const Invocation other =
      preprocess(std::string("KILN_OPENCV_CODECS=") + KILN_NOT_A_PLUGIN, "pngs");
  EXPECT_EQ(other.exit_code, 1) << other.output;
  EXPECT_NE(other.output.find("not this kiln's plugin (no ABI number"), std::string::npos)
      << other.output;
  const Invocation found = preprocess("", "pngs");  // the plugin beside the build's kiln
  EXPECT_EQ(found.exit_code, 0) << found.output;
  EXPECT_NE(found.output.find("2 images"), std::string::npos) << found.output;
}

// --profile prints the machine's limits, then one line per layer and pass with its roofline
// verdict, and the total; --classes sets the model's outputs (resnet18 keeps 1000 as torchvision).
TEST(Cli, BenchTrainProfilesEveryLayerAgainstTheMachinesLimits) {
  const Invocation run =
      kiln("bench train --model mlp --batch 8 --classes 7 --profile --profile-steps 2 --threads 1");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  for (const char* part : {"FMA peak", "GB/s", "dense_1 fwd", "dense_1 bwd", "dense_3 bwd",
                           "10x1x1", "all layers", "img/s"}) {
    if (std::string(part) == "10x1x1") {
      EXPECT_EQ(run.output.find(part), std::string::npos) << run.output;  // 7 classes, not 10
      EXPECT_NE(run.output.find("7x1x1"), std::string::npos) << run.output;
      continue;
    }
    EXPECT_NE(run.output.find(part), std::string::npos) << part << "\n" << run.output;
  }
  EXPECT_NE(run.output.find("bound"), std::string::npos) << run.output;
  EXPECT_EQ(kiln("bench train --model mlp --profile --profile-steps 0").exit_code, 2)
      << "a zero step count is refused";
}

// bench train says when Winograd layers make its GFLOP/s effective rather than executed rates.
TEST(Cli, BenchTrainNamesWinogradLayers) {
  const Invocation cifar =
      kiln("bench train --model cifar_cnn --batch-size 8 --windows 1 --window-seconds 0.05");
  ASSERT_EQ(cifar.exit_code, 0) << cifar.output;
  EXPECT_NE(cifar.output.find("3 of 4 conv layers run Winograd"), std::string::npos)
      << cifar.output;
  EXPECT_NE(cifar.output.find("train "), std::string::npos) << cifar.output;
  const Invocation mlp =
      kiln("bench train --model mlp --batch 8 --windows 1 --window-seconds 0.05");
  ASSERT_EQ(mlp.exit_code, 0) << mlp.output;
  EXPECT_EQ(mlp.output.find("Winograd"), std::string::npos) << mlp.output;
  // Which GEMM ran, either way.
  EXPECT_TRUE(mlp.output.find("products: kiln's AVX-512 GEMM") != std::string::npos ||
              mlp.output.find("products: kiln's AVX2 GEMM") != std::string::npos ||
              mlp.output.find("products: Eigen's GEMM") != std::string::npos)
      << mlp.output;
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
                                "/model.h5 --epochs 2 --batch-size 32 --flip 0.5 --augment "
                                "'[{\"type\": \"pad_crop\", \"padding\": 1}]'");
  ASSERT_EQ(train.exit_code, 0) << train.output;
  EXPECT_NE(train.output.find("epoch 2/2"), std::string::npos) << train.output;
  const Invocation eval = kiln("evaluate " + d + "/model.h5 " + d + "/test.h5");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  const auto at = eval.output.find("accuracy ");
  ASSERT_NE(at, std::string::npos) << eval.output;
  EXPECT_GT(std::stod(eval.output.substr(at + 9)), 0.9) << eval.output;
  const Invocation model = kiln("inspect " + d + "/model.h5");
  ASSERT_EQ(model.exit_code, 0) << model.output;
  for (const char* part :
       {"kiln model", "Total params", "trained   2 epochs", "eval_stages", "normalization"}) {
    EXPECT_NE(model.output.find(part), std::string::npos) << part << "\n" << model.output;
  }
  // Multi-crop next to single-crop, with the report files.
  const Invocation multi = kiln("evaluate " + d + "/model.h5 " + d +
                                "/test.h5 --crops 10 --compare --per-class --report " + d + "/rep");
  ASSERT_EQ(multi.exit_code, 0) << multi.output;
  EXPECT_NE(multi.output.find("single crop"), std::string::npos) << multi.output;
  EXPECT_NE(multi.output.find("10 crops 8x8, padding 1 (10 per image)"), std::string::npos)
      << multi.output;
  EXPECT_NE(multi.output.find("multi-crop minus single-crop accuracy"), std::string::npos);
  EXPECT_NE(multi.output.find("precision"), std::string::npos);
  for (const char* file :
       {"summary.csv", "confusion.csv", "confusion.png", "per_class.csv", "predictions.csv"}) {
    EXPECT_TRUE(std::filesystem::exists(d + "/rep/" + file)) << file;
  }
  // summary.csv: the figures by name; with 4 classes top-k is top-4.
  std::stringstream summary;
  summary << std::ifstream(d + "/rep/summary.csv").rdbuf();
  for (const char* row : {"metric,value\n", "\nimages,", "\nviews_per_image,10\n", "\nloss,",
                          "\naccuracy,", "\ntop4_accuracy,", "\nmacro_f1,"}) {
    EXPECT_NE(summary.str().find(row), std::string::npos) << row << "\n" << summary.str();
  }
  const Invocation too_big =
      kiln("evaluate " + d + "/model.h5 " + d + "/test.h5 --crops 5 --scales 4");
  EXPECT_EQ(too_big.exit_code, 1);
  EXPECT_EQ(lines(too_big.output), 1) << too_big.output;
  EXPECT_NE(too_big.output.find("does not fit"), std::string::npos) << too_big.output;
  EXPECT_EQ(kiln("evaluate " + d + "/model.h5 " + d + "/test.h5 --crops 3").exit_code, 2);
}

TEST(Cli, ImageFolderPreprocessInspectTrainEvaluate) {
  testing::TempDir dir;
  const auto root = dir.path() / "photos";
  write_dark_and_bright_photos(root, "img ", [](int i) { return cv::Size(30, 24 + i % 5); });
  testing::write_bytes((root / "dark" / "broken.jpg").string(), {0xFF, 0xD8, 0xFF, 0xE0});
  const std::string d = dir.path().string();
  const Invocation pre = kiln("preprocess " + root.string() + " --size 16x16 -o " + d + "/data.h5");
  ASSERT_EQ(pre.exit_code, 0) << pre.output;
  EXPECT_NE(pre.output.find("skipped 1 of 41"), std::string::npos) << pre.output;
  const Invocation inspect = kiln("inspect " + d + "/data.h5");
  ASSERT_EQ(inspect.exit_code, 0) << inspect.output;
  EXPECT_NE(inspect.output.find("bright: 20 images"), std::string::npos) << inspect.output;
  EXPECT_NE(inspect.output.find("broken.jpg: truncated"), std::string::npos) << inspect.output;
  const Invocation train =
      kiln("train " + d + "/data.h5 -o " + d +
           "/model.h5 --model lenet5 --epochs 3 --batch-size 8 --optimizer adam --lr 0.003");
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const Invocation eval = kiln("evaluate " + d + "/model.h5 " + d + "/data.h5");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  // A smoke floor (tests/support/idx_files.hpp).
  EXPECT_GT(std::stod(eval.output.substr(eval.output.find("accuracy ") + 9)), 0.9) << eval.output;
  // predict: the model's own preprocessing on new files; a bad file is reported, the rest
  // predicted.
  cv::Mat bright_image(40, 50, CV_8UC3, cv::Scalar::all(220)),
      dark_image(20, 20, CV_8UC3, cv::Scalar::all(30));
  testing::write_bytes(d + "/new bright.png", testing::encode(bright_image, ".png"));
  testing::write_bytes(d + "/new dark.jpg", testing::encode(dark_image, ".jpg"));
  const Invocation predict = kiln("predict " + d + "/model.h5 '" + d + "/new bright.png' '" + d +
                                  "/new dark.jpg' " + root.string() + "/dark/broken.jpg --top-k 2");
  EXPECT_EQ(predict.exit_code, 1) << predict.output;  // one image could not be read
  EXPECT_NE(predict.output.find("new bright.png  bright "), std::string::npos) << predict.output;
  EXPECT_NE(predict.output.find("new dark.jpg  dark "), std::string::npos) << predict.output;
  EXPECT_NE(predict.output.find("broken.jpg: truncated"), std::string::npos) << predict.output;
  // A stratified validation split: two files, every image in exactly one.
  const Invocation split = kiln("preprocess " + root.string() +
                                " --size 16x16 --val-split 0.25 --seed 3 -o " + d + "/tr.h5");
  ASSERT_EQ(split.exit_code, 0) << split.output;
  EXPECT_NE(split.output.find("tr.h5: 30 images"), std::string::npos) << split.output;
  EXPECT_NE(split.output.find("tr-val.h5: 10 images"), std::string::npos) << split.output;
  EXPECT_NE(kiln("inspect " + d + "/tr-val.h5").output.find("split     validation"),
            std::string::npos);
  // Fail mode: non-zero, one line naming the bad file, no output file.
  const Invocation fail =
      kiln("preprocess " + root.string() + " --size 16x16 --on-error fail -o " + d + "/strict.h5");
  EXPECT_EQ(fail.exit_code, 1);
  EXPECT_EQ(lines(fail.output), 1) << fail.output;
  EXPECT_NE(fail.output.find("broken.jpg"), std::string::npos) << fail.output;
  EXPECT_FALSE(std::filesystem::exists(d + "/strict.h5"));
}

// Variable-size storage end to end: preprocess keeping aspect ratios as JPEG, train with ResNet
// scale crops, evaluate ten-crop, predict a new photo.
TEST(Cli, VariableSizePhotosThroughTrainEvaluatePredict) {
  testing::TempDir dir;
  const auto root = dir.path() / "photos";
  write_dark_and_bright_photos(root, "p",
                               [](int i) { return cv::Size(40 + (i % 3) * 10, 30 + (i % 5) * 6); });
  const std::string d = dir.path().string();
  const Invocation pre = kiln("preprocess " + root.string() + " --short-side 20 --max-side 32 " +
                              "--store jpeg:95 -o " + d + "/v.h5");
  ASSERT_EQ(pre.exit_code, 0) << pre.output;
  EXPECT_NE(pre.output.find("variable size (short side 20, long side <= 32)"), std::string::npos)
      << pre.output;
  EXPECT_NE(kiln("inspect " + d + "/v.h5").output.find("stored jpeg"), std::string::npos);
  const Invocation mixed =
      kiln("preprocess " + root.string() + " --size 8x8 --short-side 20 -o " + d + "/x.h5");
  EXPECT_EQ(mixed.exit_code, 2);  // a usage mistake
  EXPECT_NE(mixed.output.find("exclude each other"), std::string::npos) << mixed.output;
  const Invocation no_crop = kiln("train " + d + "/v.h5 -o " + d + "/m.h5 --epochs 1");
  EXPECT_EQ(no_crop.exit_code, 1);
  EXPECT_NE(no_crop.output.find("add a crop stage"), std::string::npos) << no_crop.output;
  const Invocation train =
      kiln("train " + d + "/v.h5 -o " + d + "/m.h5 --model lenet5 --epochs 4 --batch-size 8 " +
           "--optimizer adam --lr 0.003 --augment '[{\"type\": \"scale_crop\", \"size\": 16, " +
           "\"scale_range\": [16, 24], \"eval_scale\": 20}]'");
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const Invocation eval = kiln("evaluate " + d + "/m.h5 " + d + "/v.h5 --crops 10 --compare");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_NE(eval.output.find("10 crops 16x16 at short side 20"), std::string::npos) << eval.output;
  // A smoke floor (tests/support/idx_files.hpp).
  EXPECT_GT(std::stod(eval.output.substr(eval.output.rfind("accuracy ") + 9)), 0.9) << eval.output;
  cv::Mat bright_image(50, 90, CV_8UC3, cv::Scalar::all(220));
  testing::write_bytes(d + "/new.png", testing::encode(bright_image, ".png"));
  const Invocation predict = kiln("predict " + d + "/m.h5 " + d + "/new.png --crops 10");
  ASSERT_EQ(predict.exit_code, 0) << predict.output;
  EXPECT_NE(predict.output.find("new.png  bright "), std::string::npos) << predict.output;
  const Invocation folder_eval = kiln("evaluate " + d + "/m.h5 " + root.string());
  ASSERT_EQ(folder_eval.exit_code, 0) << folder_eval.output;
  // Training straight from the folder (a broken file in it is left out and reported), with a
  // folder for validation too.
  testing::write_bytes((root / "dark" / "broken.jpg").string(), {0xFF, 0xD8, 0xFF, 0xE0});
  const Invocation from_folder =
      kiln("train " + root.string() + " --validation " + root.string() + " -o " + d +
           "/mf.h5 --model lenet5 --epochs 3 --batch-size 8 --optimizer adam --lr 0.003 " +
           "--augment '[{\"type\": \"random_resized_crop\", \"size\": 16}]'");
  ASSERT_EQ(from_folder.exit_code, 0) << from_folder.output;
  EXPECT_NE(from_folder.output.find("val_acc"), std::string::npos) << from_folder.output;
  EXPECT_NE(from_folder.output.find("broken.jpg: truncated"), std::string::npos)
      << from_folder.output;
  EXPECT_NE(from_folder.output.find("reading " + root.string() + ": 41/41 images"),
            std::string::npos)
      << from_folder.output;
  const Invocation eval_folder = kiln("evaluate " + d + "/mf.h5 " + root.string());
  ASSERT_EQ(eval_folder.exit_code, 0) << eval_folder.output;
  // A smoke floor (tests/support/idx_files.hpp).
  EXPECT_GT(std::stod(eval_folder.output.substr(eval_folder.output.find("accuracy ") + 9)), 0.8)
      << eval_folder.output;
}

TEST(Cli, CifarBatches) {
  testing::TempDir dir;
  std::vector<std::uint8_t> batch;
  for (int r = 0; r < 4; ++r) {
    batch.push_back(static_cast<std::uint8_t>(r));
    batch.insert(batch.end(), 3072, static_cast<std::uint8_t>(r * 10));
  }
  testing::write_bytes(dir.file("data_batch_1.bin"), batch);
  testing::write_bytes(dir.file("data_batch_2.bin"), batch);
  const Invocation pre = kiln("preprocess " + dir.file("data_batch_1.bin") + " " +
                              dir.file("data_batch_2.bin") + " -o " + dir.file("cifar.h5"));
  ASSERT_EQ(pre.exit_code, 0) << pre.output;
  EXPECT_NE(pre.output.find("8 images of 32x32x3"), std::string::npos) << pre.output;
  const Invocation inspect = kiln("inspect " + dir.file("cifar.h5"));
  EXPECT_NE(inspect.output.find("automobile: 2 images"), std::string::npos) << inspect.output;
}

}  // namespace
}  // namespace kiln

namespace kiln {
namespace {

class CliTraining : public ::testing::Test {
 protected:
  void SetUp() override {
    auto [images, labels] = testing::write_synthetic_idx(d(), "train", 400, 8, 8, 4, 1);
    ASSERT_EQ(
        kiln("preprocess " + images + " --labels " + labels + " -o " + d() + "/train.h5").exit_code,
        0);
  }
  std::string d() const { return dir_.path().string(); }
  testing::TempDir dir_;
};

TEST_F(CliTraining, ConfigFileFlagsAndSetLayerInOrder) {
  std::ofstream(d() + "/run.json") << R"({"epochs": 9, "optimizer": {"type": "adam", "lr": 0.002},
                                          "model": {"name": "lenet5"}})";
  const Invocation shown = kiln("train " + d() + "/train.h5 --config " + d() +
                                "/run.json --epochs 4 --set optimizer.lr=0.005 --print-config");
  ASSERT_EQ(shown.exit_code, 0) << shown.output;
  const Json config = Json::parse(shown.output);
  EXPECT_EQ(config["epochs"], 4);                  // the flag beats the file
  EXPECT_EQ(config["optimizer"]["type"], "adam");  // the file beats the default
  EXPECT_EQ(config["optimizer"]["lr"], 0.005);     // --set beats everything
  EXPECT_EQ(config["model"]["name"], "lenet5");
  EXPECT_EQ(config["data"]["train"], d() + "/train.h5");

  std::ofstream(d() + "/typo.json") << R"({"optimiser": {"lr": 0.1}})";
  const Invocation typo = kiln("train " + d() + "/train.h5 -o x.h5 --config " + d() + "/typo.json");
  EXPECT_EQ(typo.exit_code, 2);  // a config mistake
  EXPECT_EQ(lines(typo.output), 1) << typo.output;
  EXPECT_NE(typo.output.find("typo.json: unknown key 'optimiser'"), std::string::npos)
      << typo.output;
  const Invocation range = kiln("train " + d() + "/train.h5 -o x.h5 --set batch_size=0");
  EXPECT_EQ(range.exit_code, 2);
  EXPECT_NE(range.output.find("'batch_size' must be an integer in [1, "), std::string::npos)
      << range.output;
}

// A layer list in the config instead of a built-in model: trained, saved, evaluated; mistakes
// in it are one line naming the file and the layer, before any data is read.
TEST_F(CliTraining, LayerListModelTrainsAndItsMistakesAreNamed) {
  std::ofstream(d() + "/net.json") << R"({"model": {"layers": [
      {"type": "conv2d", "filters": 16, "padding": "same"},
      {"type": "relu"},
      {"type": "conv2d", "filters": 16, "padding": "same", "algorithm": "winograd"},
      {"type": "relu"},
      {"type": "max_pool2d"},
      {"type": "flatten"},
      {"type": "dense", "units": 4}]}, "epochs": 2, "batch_size": 32})";
  const Invocation trained =
      kiln("train " + d() + "/train.h5 -o " + d() + "/net.h5 --config " + d() + "/net.json");
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  EXPECT_NE(trained.output.find("epoch 2/2"), std::string::npos) << trained.output;
  const Invocation evaluated = kiln("evaluate " + d() + "/net.h5 " + d() + "/train.h5");
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.output;
  EXPECT_NE(evaluated.output.find("accuracy"), std::string::npos) << evaluated.output;

  const std::string train = "train " + d() + "/train.h5 -o " + d() + "/bad.h5 --set ";
  const Invocation unknown = kiln(train + R"('model.layers=[{"type": "dense", "units": 4},
      {"type": "dense", "unit": 4}]')");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_EQ(lines(unknown.output), 1) << unknown.output;
  EXPECT_NE(unknown.output.find("'model.layers[1]'"), std::string::npos) << unknown.output;
  EXPECT_NE(unknown.output.find("unit"), std::string::npos) << unknown.output;
  const Invocation strided = kiln(train + R"('model.layers=[{"type": "conv2d", "filters": 4,
      "strides": 2, "algorithm": "winograd"}, {"type": "flatten"}, {"type": "dense", "units": 4}]')");
  EXPECT_EQ(strided.exit_code, 2);
  EXPECT_NE(strided.output.find("needs a 3x3 kernel with strides 1"), std::string::npos)
      << strided.output;
  const Invocation classes = kiln(train + R"('model.layers=[{"type": "flatten"},
      {"type": "dense", "units": 3}]')");
  EXPECT_EQ(classes.exit_code, 2);
  EXPECT_EQ(lines(classes.output), 1) << classes.output;
  EXPECT_NE(classes.output.find("gives 3 outputs per image but the data has 4 classes"),
            std::string::npos)
      << classes.output;
  EXPECT_FALSE(std::filesystem::exists(d() + "/bad.h5"));
}

TEST_F(CliTraining, RunDirectoryHoldsEverythingAndResumes) {
  const std::string run = d() + "/run";
  const Invocation first = kiln("train " + d() + "/train.h5 --run-dir " + run +
                                " --epochs 2 --validation-split 0.25 --flip 0.5");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("val_acc"), std::string::npos) << first.output;
  for (const char* file : {"config.json", "log.csv", "loss.png", "accuracy.png", "lr.png",
                           "checkpoint.h5", "model.h5"}) {
    EXPECT_TRUE(std::filesystem::exists(run + "/" + file)) << file;
  }
  const Invocation resumed = kiln("train --resume " + run + " --epochs 3");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("epoch 3/3"), std::string::npos) << resumed.output;
  EXPECT_EQ(resumed.output.find("epoch 1/3"), std::string::npos) << "resumed, not restarted";
  EXPECT_EQ(Json::parse(kiln("train --resume " + run + " --print-config").output)["epochs"], 3);
}

// Bytes of a file, to see that a failed write left it as it was.
std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// Run directories written before SGD had weight decay hold AdamW's 0.01 whatever the optimizer:
// an adam run from then resumes (adam has no weight decay), it is not refused.
TEST_F(CliTraining, AnOlderRunDirectoryWithAdamResumes) {
  const std::string run = d() + "/run";
  ASSERT_EQ(kiln("train " + d() + "/train.h5 --run-dir " + run + " --epochs 1 --optimizer adam")
                .exit_code,
            0);
  Json config = Json::parse(file_bytes(run + "/config.json"));
  config["optimizer"]["weight_decay"] = 0.01;
  std::ofstream(run + "/config.json") << config.dump(2);
  const Invocation resumed = kiln("train --resume " + run + " --epochs 2");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("epoch 2/2"), std::string::npos) << resumed.output;
  const Invocation fresh = kiln("train " + d() + "/train.h5 -o " + d() + "/x.h5 --optimizer adam " +
                                "--weight-decay 0.01");
  EXPECT_EQ(fresh.exit_code, 2) << fresh.output;
  EXPECT_NE(fresh.output.find("'optimizer.weight_decay' applies to sgd and adamw, not adam"),
            std::string::npos)
      << fresh.output;
}

// A file-size limit (as a full disk would) hit by each file a run writes — its config, a chart,
// a model file, an ONNX export — stops kiln with one line naming that file (not a temporary) and
// the cause; the files written before stay as they were, and no temporary is left behind.
TEST_F(CliTraining, WriteFailuresDuringARunNameTheFileAndKeepThePreviousOnes) {
  const std::string run = d() + "/run";
  ASSERT_EQ(kiln("train " + d() + "/train.h5 --run-dir " + run + " --epochs 1").exit_code, 0);
  const std::string checkpoint = file_bytes(run + "/checkpoint.h5");
  const std::string model = file_bytes(run + "/model.h5");
  const std::string kiln_binary = KILN_BINARY;
  struct Case {
    int limit_blocks;
    std::string command, file_named;
  };
  const Case cases[] = {
      {1, "train " + d() + "/train.h5 --run-dir " + d() + "/fresh --epochs 1", "config.json"},
      {8, "train --resume " + run + " --epochs 2", "loss.png"},
      {200, "train --resume " + run + " --epochs 2", "best.h5"},
      {20, "export " + run + "/model.h5 -o " + d() + "/m.onnx", "m.onnx"},
  };
  for (const Case& c : cases) {
    const Invocation r = kiln_shell("ulimit -f " + std::to_string(c.limit_blocks) + "; exec " +
                                    kiln_binary + " " + c.command);
    EXPECT_EQ(r.exit_code, 1) << c.command << ": " << r.output;
    const std::size_t error = r.output.find("kiln: error: ");
    ASSERT_NE(error, std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("kiln: error: ", error + 1), std::string::npos) << r.output;
    const std::string last = r.output.substr(error, r.output.find('\n', error) - error);
    EXPECT_NE(last.find(c.file_named + ": "), std::string::npos) << last;
    EXPECT_NE(last.find("File too large"), std::string::npos) << last;
    EXPECT_EQ(last.find(".tmp-"), std::string::npos) << last;
  }
  EXPECT_EQ(file_bytes(run + "/checkpoint.h5"), checkpoint);
  EXPECT_EQ(file_bytes(run + "/model.h5"), model);
  EXPECT_FALSE(std::filesystem::exists(d() + "/m.onnx"));
  for (const auto& entry : std::filesystem::recursive_directory_iterator(d())) {
    EXPECT_EQ(entry.path().string().find(".tmp-"), std::string::npos) << entry.path();
  }
}

// kiln lr-find runs the range test on the train command's config and writes its two files and
// nothing else; the same seed gives the same curve.
// A damaged chunk read on a pipeline worker thread is one line, kiln's, naming the file and the
// failed checksum: HDF5's own error stack (57 lines) is silenced on every thread.
TEST_F(CliTraining, DamagedDataIsOneLineOnEveryThread) {
  // 1,200 images, so that the middle of the first 1,024-row chunk, where the damage goes, holds
  // pixels: damage to a chunk's zero-filled tail is invisible to Fletcher-32 (0x0000 and 0xFFFF
  // are the same word to it), and harmless.
  auto [images, labels] = testing::write_synthetic_idx(d(), "big", 1200, 8, 8, 4, 3);
  ASSERT_EQ(
      kiln("preprocess " + images + " --labels " + labels + " -o " + d() + "/big.h5").exit_code, 0);
  ASSERT_EQ(kiln("train " + d() + "/big.h5 --epochs 1 -o " + d() + "/m.h5").exit_code, 0);
  std::filesystem::copy_file(d() + "/big.h5", d() + "/damaged.h5");
  const std::string damage = "/usr/bin/python3 " + std::string(KILN_TEST_SOURCE_DIR) +
                             "/io/damage_hdf5.py " + d() + "/damaged.h5 images";
  ASSERT_EQ(kiln_shell(damage).exit_code, 0) << "needs python3-h5py";
  const Invocation r = kiln("evaluate " + d() + "/m.h5 " + d() + "/damaged.h5 --threads 2");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find("damaged.h5"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("checksum"), std::string::npos) << r.output;
}

TEST_F(CliTraining, LrFindWritesTheCurveAndSuggestsARate) {
  const std::string lr = d() + "/lr";
  const std::string command = "lr-find " + d() + "/train.h5 --output-dir " + lr +
                              " --steps 40 --min 1e-5 --max 100 --batch-size 16 --flip 0.5";
  const Invocation r = kiln(command);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("suggested rate: "), std::string::npos) << r.output;
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(lr)) {
    files.push_back(entry.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{"lr_find.csv", "lr_find.png"}));
  const std::string csv = file_bytes(lr + "/lr_find.csv");
  EXPECT_EQ(csv.rfind("step,rate,loss,smoothed\n0,1e-05,", 0), 0u) << csv;
  EXPECT_LE(lines(csv), 41);
  EXPECT_FALSE(cv::imread(lr + "/lr_find.png").empty());
  ASSERT_EQ(kiln(command).exit_code, 0);
  EXPECT_EQ(file_bytes(lr + "/lr_find.csv"), csv) << "the same seed, the same curve";

  const Invocation backwards = kiln("lr-find " + d() + "/train.h5 --min 1 --max 0.1");
  EXPECT_EQ(backwards.exit_code, 2) << backwards.output;
  EXPECT_NE(backwards.output.find("--max must be above --min"), std::string::npos);
}

TEST_F(CliTraining, BenchPipelinePrintsTheSameDigestForAnyThreadCount) {
  const std::string stages =
      " --augment '[{\"type\": \"affine\", \"rotation\": 15}, "
      "{\"type\": \"pad_crop\", \"padding\": 1}]' --epochs 2";
  const Invocation one = kiln("bench pipeline " + d() + "/train.h5 --threads 1" + stages);
  const Invocation two = kiln("bench pipeline " + d() + "/train.h5 --threads 2" + stages);
  ASSERT_EQ(one.exit_code, 0) << one.output;
  ASSERT_EQ(two.exit_code, 0) << two.output;
  const auto digest = [](const std::string& out) { return out.substr(out.find("digest")); };
  EXPECT_EQ(digest(one.output), digest(two.output));
  EXPECT_NE(one.output.find("img/s"), std::string::npos);
  const Invocation preview =
      kiln("augment-preview " + d() + "/train.h5 -o " + d() + "/preview.png --images 3 --views 4" +
           stages.substr(0, stages.find(" --epochs")));
  ASSERT_EQ(preview.exit_code, 0) << preview.output;
  const cv::Mat png = cv::imread(d() + "/preview.png");
  EXPECT_EQ(png.cols, 5 * (128 + 4)) << "stored + 4 views";
}

// On a terminal the epoch is a progress bar redrawn in place; in a pipe, one line per epoch.
TEST_F(CliTraining, ProgressBarOnATerminalOnly) {
  if (std::system("command -v script > /dev/null") != 0) GTEST_SKIP() << "no script(1)";
  const std::string train = std::string(KILN_BINARY) + " train " + d() + "/train.h5 -o " + d() +
                            "/p.h5 --epochs 1 --batch-size 4";
  const Invocation tty = kiln_shell("script -qec '" + train + "' /dev/null");
  EXPECT_NE(tty.output.find("ETA"), std::string::npos) << tty.output;
  EXPECT_NE(tty.output.find("\r"), std::string::npos);
  const Invocation piped = kiln("train " + d() + "/train.h5 -o " + d() + "/p.h5 --epochs 1");
  EXPECT_EQ(piped.output.find("ETA"), std::string::npos) << piped.output;
}

TEST_F(CliTraining, FitZcaThenTrainAndEvaluateWithIt) {
  const Invocation before = kiln("train " + d() + "/train.h5 -o " + d() +
                                 "/z.h5 --epochs 1 --set normalization.mode=zca");
  EXPECT_EQ(before.exit_code, 1);
  EXPECT_NE(before.output.find("kiln fit DATA --zca"), std::string::npos) << before.output;
  const Invocation fit = kiln("fit " + d() + "/train.h5 --zca 0.1");
  ASSERT_EQ(fit.exit_code, 0) << fit.output;
  EXPECT_NE(fit.output.find("/normalization/zca, 64x64"), std::string::npos) << fit.output;
  const Invocation train =
      kiln("train " + d() + "/train.h5 -o " + d() +
           "/z.h5 --epochs 5 --set normalization.mode=zca --validation-split 0.2");
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const Invocation eval = kiln("evaluate " + d() + "/z.h5 " + d() + "/train.h5");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  // It learns (the chance level is 0.25); the exact figure is not the point here.
  // A smoke floor (tests/support/idx_files.hpp).
  EXPECT_GT(std::stod(eval.output.substr(eval.output.find("accuracy ") + 9)), 0.8) << eval.output;
  EXPECT_NE(kiln("inspect " + d() + "/z.h5").output.find("\"mode\":\"zca\""), std::string::npos);
}

TEST_F(CliTraining, OverfitReportsTheSanityCheck) {
  const Invocation ok =
      kiln("train " + d() + "/train.h5 -o " + d() + "/of.h5 --overfit 12 --epochs 300 --lr 0.1");
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("overfit check passed: 12 samples at 100% training accuracy"),
            std::string::npos)
      << ok.output;
  const Invocation short_run =
      kiln("train " + d() + "/train.h5 -o " + d() + "/of2.h5 --overfit 12 --epochs 1 --lr 1e-6");
  EXPECT_EQ(short_run.exit_code, 1);
  EXPECT_NE(short_run.output.find("overfit check FAILED"), std::string::npos) << short_run.output;
}

// A run killed with SIGKILL loses at most the epoch in progress: resuming its run directory ends
// with the very weights of a run never interrupted.
TEST_F(CliTraining, SigkillThenResumeEqualsAnUninterruptedRun) {
  const std::string args = " --epochs 60 --batch-size 16 --flip 0.5 --seed 3";
  ASSERT_EQ(kiln("train " + d() + "/train.h5 --run-dir " + d() + "/straight" + args).exit_code, 0);

  const std::string run = d() + "/killed";
  const pid_t child = spawn_kiln({"train", d() + "/train.h5", "--run-dir", run, "--epochs", "60",
                                  "--batch-size", "16", "--flip", "0.5", "--seed", "3"});
  ASSERT_GE(child, 0);
  // Kill it once a few epochs are logged, mid-run.
  auto logged = [&] {
    std::ifstream log(run + "/log.csv");
    int rows = 0;
    for (std::string line; std::getline(log, line);) ++rows;
    return rows - 1;
  };
  for (int i = 0; i < 20000 && logged() < 3; ++i) usleep(1000);
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before it could be killed";
  EXPECT_FALSE(std::filesystem::exists(run + "/model.h5"));
  const nn::TrainState killed_at = io::load_model(run + "/checkpoint.h5").train_state;
  ASSERT_GE(killed_at.epoch, 1) << "no epoch was checkpointed before the kill";

  // Training is deterministic, so a silent restart would end with the same weights: the run must
  // say it picked up after the checkpoint's epoch.
  const Invocation resumed = kiln("train --resume " + run);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find(" at epoch " + std::to_string(killed_at.epoch + 1) + "\n"),
            std::string::npos)
      << resumed.output;
  auto a = io::load_model(d() + "/straight/model.h5");
  auto b = io::load_model(run + "/model.h5");
  EXPECT_EQ(b.train_state.epoch, 60);
  auto pa = a.model.parameters(), pb = b.model.parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (std::size_t i = 0; i < pa.size(); ++i) {
    ASSERT_TRUE(std::equal(pa[i]->value.span().begin(), pa[i]->value.span().end(),
                           pb[i]->value.span().begin()))
        << "parameter " << i << " differs after SIGKILL and resume";
  }
}

// The CSV log without its seconds column (the one figure a resumed run cannot reproduce).
std::vector<std::string> log_without_seconds(const std::string& path) {
  std::ifstream log(path);
  std::string header;
  std::getline(log, header);
  std::vector<std::string> names;
  std::stringstream columns(header);
  for (std::string name; std::getline(columns, name, ',');) names.push_back(name);
  std::vector<std::string> rows;
  for (std::string line; std::getline(log, line);) {
    std::stringstream cells(line);
    std::string row;
    std::size_t column = 0;
    for (std::string cell; std::getline(cells, cell, ','); ++column) {
      if (column < names.size() && names[column] == "seconds") continue;
      row += cell + ",";
    }
    rows.push_back(row);
  }
  return rows;
}

// --checkpoint-every: a run killed mid-epoch resumes from the batch after its last checkpoint and
// ends with the weights and the per-epoch log of a run never interrupted (and never checkpointed
// mid-epoch: saving changes nothing).
// Mixup and cutmix, label smoothing and a per-step warm-up run too: each is keyed by the step or
// the sample, so the resumed half draws what the straight run drew.
TEST_F(CliTraining, SigkillMidEpochThenResumeEqualsAnUninterruptedRun) {
  const std::string mixing =
      R"([{"type": "mixup_cutmix", "mixup_alpha": 0.4, "cutmix_alpha": 1.0}])";
  const std::string args =
      " --epochs 2 --batch-size 2 --flip 0.5 --seed 4 --validation-split 0.1"
      " --lr-schedule cosine+warmup:0.5 --set loss.label_smoothing=0.1"
      " --augment '" +
      mixing + "'";
  ASSERT_EQ(kiln("train " + d() + "/train.h5 --run-dir " + d() + "/straight" + args).exit_code, 0);

  const std::string run = d() + "/killed";
  const pid_t child = spawn_kiln({"train",
                                  d() + "/train.h5",
                                  "--run-dir",
                                  run,
                                  "--epochs",
                                  "2",
                                  "--batch-size",
                                  "2",
                                  "--flip",
                                  "0.5",
                                  "--seed",
                                  "4",
                                  "--validation-split",
                                  "0.1",
                                  "--checkpoint-every",
                                  "7",
                                  "--lr-schedule",
                                  "cosine+warmup:0.5",
                                  "--set",
                                  "loss.label_smoothing=0.1",
                                  "--augment",
                                  mixing});
  ASSERT_GE(child, 0);
  // The first checkpoint is written after step 7 of 181 in epoch 1: kill as soon as it exists.
  for (int i = 0; i < 20000 && !std::filesystem::exists(run + "/checkpoint.h5"); ++i) usleep(500);
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before it could be killed";
  const nn::TrainState killed_at = io::load_model(run + "/checkpoint.h5").train_state;
  EXPECT_GT(killed_at.progress.batches, 0) << "the last checkpoint is mid-epoch";
  EXPECT_EQ(killed_at.step % 7, 0);

  const Invocation wrong_batches = kiln("train --resume " + run + " --batch-size 4");
  EXPECT_EQ(wrong_batches.exit_code, 2) << wrong_batches.output;
  EXPECT_NE(wrong_batches.output.find("resume with that batch_size"), std::string::npos)
      << wrong_batches.output;
  const Invocation resumed = kiln("train --resume " + run);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(
      resumed.output.find("mid-epoch: epoch " + std::to_string(killed_at.epoch + 1) +
                          " from batch " + std::to_string(killed_at.progress.batches + 1) + " of "),
      std::string::npos)
      << resumed.output;
  auto a = io::load_model(d() + "/straight/model.h5");
  auto b = io::load_model(run + "/model.h5");
  auto pa = a.model.parameters(), pb = b.model.parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (std::size_t i = 0; i < pa.size(); ++i) {
    ASSERT_TRUE(std::equal(pa[i]->value.span().begin(), pa[i]->value.span().end(),
                           pb[i]->value.span().begin()))
        << "parameter " << i << " differs after a mid-epoch SIGKILL and resume";
  }
  EXPECT_EQ(log_without_seconds(run + "/log.csv"), log_without_seconds(d() + "/straight/log.csv"));
}

// A preprocess killed with SIGKILL at any moment leaves the previous output file untouched (or
// none): the writer works under a temporary name.
TEST(Cli, PreprocessKilledMidRunLeavesThePreviousFileUntouched) {
  testing::TempDir dir;
  const auto root = dir.path() / "photos";
  for (int i = 0; i < 400; ++i) {
    const auto folder = root / (i % 2 ? "b" : "a");
    std::filesystem::create_directories(folder);
    cv::Mat image(180, 240, CV_8UC3);
    cv::randu(image, cv::Scalar::all(0), cv::Scalar::all(255));
    testing::write_bytes((folder / ("p" + std::to_string(i) + ".png")).string(),
                         testing::encode(image, ".png"));
  }
  const std::string out = dir.file("data.h5");
  ASSERT_EQ(kiln("preprocess " + root.string() + " --size 16x16 --quiet -o " + out).exit_code, 0);
  const auto before = std::filesystem::file_size(out);
  const std::string original = file_bytes(out);
  // Starts `kiln preprocess ... -o output`, sends SIGKILL after delay_ms; true when the kill
  // landed (false: the run had already finished).
  const auto killed_after = [&](const std::string& output, int delay_ms) {
    const pid_t child = spawn_kiln({"preprocess", root, "--size", "64x64", "-o", output});
    EXPECT_GE(child, 0);
    usleep(static_cast<useconds_t>(delay_ms) * 1000);
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    return WIFSIGNALED(status);
  };
  int killed = 0;
  // Kill a second run over the same output at several moments.
  for (const int delay_ms : {5, 40, 150}) {
    if (!killed_after(out, delay_ms)) continue;  // it finished first: nothing to check this time
    ++killed;
    // Either the previous file, byte for byte, or — when the kill landed after the rename, during
    // exit — the complete new one; never anything in between.
    const Invocation inspect = kiln("inspect " + out);
    EXPECT_EQ(inspect.exit_code, 0) << inspect.output;
    if (file_bytes(out) != original) {
      EXPECT_NE(inspect.output.find("(400, 64, 64, 3)"), std::string::npos)
          << "after " << delay_ms << " ms: " << inspect.output;
    } else {
      EXPECT_EQ(std::filesystem::file_size(out), before);
    }
  }
  // With no previous file, a killed run leaves none at the output path.
  const std::string fresh = dir.file("fresh.h5");
  if (killed_after(fresh, 50)) {
    ++killed;
    EXPECT_FALSE(std::filesystem::exists(fresh));
  }
  EXPECT_GT(killed, 0) << "every run finished before it could be killed: the test checked nothing";
}

// The shared real data, in both storage modes, its GIF placeholder read like the photos.
TEST(Cli, HymenopteraInBothStorageModes) {
  const std::string data =
      std::string(KILN_TEST_SOURCE_DIR) + "/../../shared/data/hymenoptera/train";
  if (!std::filesystem::exists(data)) GTEST_SKIP() << data << " is not here";
  testing::TempDir dir;
  const Invocation fixed = kiln("preprocess " + data + " --size 32x32 -o " + dir.file("f.h5"));
  ASSERT_EQ(fixed.exit_code, 0) << fixed.output;
  EXPECT_EQ(fixed.output.find("imageNotFound.gif"), std::string::npos) << fixed.output;
  EXPECT_NE(fixed.output.find("245 images of 32x32x3"), std::string::npos) << fixed.output;
  const Invocation variable = kiln(
      "preprocess " + data + " --short-side 40 --max-side 80 --store jpeg -o " + dir.file("v.h5"));
  ASSERT_EQ(variable.exit_code, 0) << variable.output;
  EXPECT_NE(variable.output.find("245 images of variable size"), std::string::npos)
      << variable.output;
  const Invocation inspect = kiln("inspect " + dir.file("v.h5"));
  EXPECT_NE(inspect.output.find("ants: 124 images"), std::string::npos) << inspect.output;
}

}  // namespace
}  // namespace kiln
