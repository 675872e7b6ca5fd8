// Graph models, warm starts, freezing and ensembles from the command line, and model files written
// before graph models existed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include "io/model_file.hpp"
#include "tests/support/run_kiln.hpp"
#include "tests/support/temp_dir.hpp"

namespace kiln {
namespace {

using testing::Invocation;
using testing::kiln;
using testing::kiln_shell;

const std::filesystem::path kFixture =
    std::filesystem::path(KILN_TEST_SOURCE_DIR) / "fixtures" / "model-v1";

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Speeds vary from run to run; everything else kiln prints must not.
std::string without_speeds(const std::string& text) {
  return std::regex_replace(text, std::regex("[0-9]+ images/s"), "N images/s");
}

// "path  a 0.6 b 0.3 c 0.1" lines → path → class → probability.
std::map<std::string, std::map<std::string, double>> parse_predictions(const std::string& text) {
  std::map<std::string, std::map<std::string, double>> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string path, name;
    double p = 0;
    words >> path;
    while (words >> name >> p) out[path][name] = p;
  }
  return out;
}

TEST(GraphCli, ModelFilesOfFormatVersion1StillLoadEvaluateAndPredict) {
  const std::string cd = "cd '" + kFixture.string() + "' && " + KILN_BINARY;
  const Invocation predict = kiln_shell(
      cd + " predict model-v1.h5 imgs/circle/0.png imgs/cross/0.png imgs/square/0.png --top-k 3");
  ASSERT_EQ(predict.exit_code, 0) << predict.output;
  EXPECT_EQ(predict.output, read_text(kFixture / "expected-predict.txt"));
  const Invocation evaluate = kiln_shell(cd + " evaluate model-v1.h5 imgs --crops 10 --compare");
  ASSERT_EQ(evaluate.exit_code, 0) << evaluate.output;
  EXPECT_EQ(without_speeds(evaluate.output),
            without_speeds(read_text(kFixture / "expected-evaluate.txt")));
  const Invocation inspect = kiln_shell(cd + " inspect model-v1.h5");
  EXPECT_NE(inspect.output.find("format version 1"), std::string::npos) << inspect.output;
}

class GraphCliTraining : public ::testing::Test {
 protected:
  void SetUp() override {
    const Invocation made =
        kiln("preprocess '" + (kFixture / "imgs").string() + "' -o " + data() + " --size 12x12");
    ASSERT_EQ(made.exit_code, 0) << made.output;
  }
  std::string data() const { return dir_.file("data.h5"); }
  std::string file(const std::string& name) const { return dir_.file(name); }

  testing::TempDir dir_;
};

// A small residual graph trains, is shown with its wiring, and its file round-trips.
TEST_F(GraphCliTraining, ResNetTrainsAndInspectShowsTheGraph) {
  const Invocation train = kiln("train " + data() + " -o " + file("resnet.h5") +
                                " --model resnet20 --width 0.25 --epochs 2 --batch-size 8");
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const Invocation inspect = kiln("inspect " + file("resnet.h5"));
  EXPECT_NE(inspect.output.find("format version 2"), std::string::npos) << inspect.output;
  EXPECT_NE(inspect.output.find("Connected to"), std::string::npos) << inspect.output;
  EXPECT_NE(inspect.output.find("stage2_block1_add (add)"), std::string::npos) << inspect.output;
  EXPECT_NE(inspect.output.find("stage2_block1_conv2_bn, stage2_block1_proj_bn"), std::string::npos)
      << inspect.output;
  const Invocation evaluate = kiln("evaluate " + file("resnet.h5") + " " + data());
  EXPECT_EQ(evaluate.exit_code, 0) << evaluate.output;
}

// A user's model written with residual blocks trains, shows the blocks' layers, and a block's
// name is a point to freeze up to.
TEST_F(GraphCliTraining, ResidualBlocksInAUsersModelTrainAndFreezeByName) {
  const std::string layers =
      R"('model.layers=[{"type": "conv2d", "filters": 4, "padding": "same"},
          {"type": "residual", "filters": 4}, {"type": "residual", "filters": 8, "strides": 2,
          "name": "down"}, {"type": "global_avg_pool2d"}, {"type": "dense", "units": 3}]')";
  const Invocation train = kiln("train " + data() + " -o " + file("blocks.h5") +
                                " --epochs 1 --batch-size 8 --freeze residual_1 --set " + layers);
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const Invocation inspect = kiln("inspect " + file("blocks.h5"));
  EXPECT_NE(inspect.output.find("down_proj (conv2d)"), std::string::npos) << inspect.output;
  EXPECT_NE(inspect.output.find("down_conv2_bn, down_proj_bn"), std::string::npos)
      << inspect.output;
  io::ModelBundle model = io::load_model(file("blocks.h5"));
  EXPECT_FALSE(model.model.trainable(7));  // residual_1, the block's output
  EXPECT_TRUE(model.model.trainable(8));   // down_conv1
}

// --init-from copies the layers whose name and shape match, --freeze keeps them as they were, and
// the layers after them train.
TEST_F(GraphCliTraining, WarmStartCopiesMatchingLayersAndFrozenOnesStayBitIdentical) {
  const std::string small =
      R"('model.layers=[{"type": "conv2d", "filters": 4, "padding": "same"}, {"type": "relu"},
          {"type": "flatten"}, {"type": "dense", "units": 3}]')";
  ASSERT_EQ(kiln("train " + data() + " -o " + file("small.h5") + " --epochs 2 --batch-size 8 " +
                 "--set " + small)
                .exit_code,
            0);
  // Deeper: a second conv, then a head of another shape (16 units) before the classifier.
  const std::string deeper =
      R"('model.layers=[{"type": "conv2d", "filters": 4, "padding": "same"}, {"type": "relu"},
          {"type": "conv2d", "filters": 4, "padding": "same"}, {"type": "relu"},
          {"type": "flatten"}, {"type": "dense", "units": 16}, {"type": "relu"},
          {"type": "dense", "units": 3}]')";
  const Invocation warm = kiln("train " + data() + " -o " + file("deeper.h5") +
                               " --epochs 2 --batch-size 8 --init-from " + file("small.h5") +
                               " --freeze conv2d_1 --set " + deeper);
  ASSERT_EQ(warm.exit_code, 0) << warm.output;
  EXPECT_NE(warm.output.find("copied 1 layers (conv2d_1); new: conv2d_2, dense_2; skipped, shape "
                             "differs: dense_1: (3, 576, 1, 1) there, (16, 576, 1, 1) here"),
            std::string::npos)
      << warm.output;

  io::ModelBundle before = io::load_model(file("small.h5"));
  io::ModelBundle after = io::load_model(file("deeper.h5"));
  EXPECT_FALSE(after.model.trainable(0));
  for (std::size_t p = 0; p < 2; ++p) {
    const auto& a = before.model.layer(0).parameters()[p]->value;
    const auto& b = after.model.layer(0).parameters()[p]->value;
    EXPECT_TRUE(std::equal(a.span().begin(), a.span().end(), b.span().begin())) << p;
  }
  // The trainable layers moved away from where the seed (1, the default) started them.
  nn::Model fresh = nn::Model::from_config(after.model.config());
  fresh.initialize(1);
  const auto& w0 = fresh.layer(2).parameters()[0]->value;
  const auto& w1 = after.model.layer(2).parameters()[0]->value;
  EXPECT_FALSE(std::equal(w0.span().begin(), w0.span().end(), w1.span().begin()));

  const Invocation unknown = kiln("train " + data() + " -o " + file("x.h5") +
                                  " --epochs 1 --freeze conv2d_9 --set " + deeper);
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.output.find("'model.freeze' conv2d_9: the model has no layer of that name"),
            std::string::npos)
      << unknown.output;
}

// The ensemble's probabilities are the mean of its models', image by image.
TEST_F(GraphCliTraining, EnsembleAveragesTheModelsProbabilities) {
  for (const char* seed : {"1", "2"}) {
    const Invocation train =
        kiln("train " + data() + " -o " + file(std::string("m") + seed + ".h5") +
             " --model mlp --epochs 2 --batch-size 8 --seed " + seed);
    ASSERT_EQ(train.exit_code, 0) << train.output;
  }
  const std::string images = " '" + (kFixture / "imgs/circle/1.png").string() + "' '" +
                             (kFixture / "imgs/cross/2.png").string() + "' --top-k 3";
  const auto a = parse_predictions(kiln("predict " + file("m1.h5") + images).output);
  const auto b = parse_predictions(kiln("predict " + file("m2.h5") + images).output);
  const auto both =
      parse_predictions(kiln("predict " + file("m1.h5") + " " + file("m2.h5") + images).output);
  ASSERT_EQ(both.size(), 2u);
  for (const auto& [path, classes] : both) {
    ASSERT_EQ(classes.size(), 3u) << path;
    for (const auto& [name, p] : classes) {
      EXPECT_NEAR(p, (a.at(path).at(name) + b.at(path).at(name)) / 2, 1.5e-4) << path << name;
    }
  }

  const Invocation compare =
      kiln("evaluate " + file("m1.h5") + " " + file("m2.h5") + " " + data() + " --compare");
  ASSERT_EQ(compare.exit_code, 0) << compare.output;
  EXPECT_NE(compare.output.find("views: " + file("m1.h5") + ", single crop"), std::string::npos)
      << compare.output;
  EXPECT_NE(compare.output.find("views: ensemble of 2 models, single crop"), std::string::npos);
  EXPECT_NE(compare.output.find("ensemble minus best single model accuracy"), std::string::npos);
  const Invocation report = kiln("evaluate " + file("m1.h5") + " " + file("m2.h5") + " " + data() +
                                 " --crops 10 --report " + file("report"));
  EXPECT_EQ(report.exit_code, 0) << report.output;
  EXPECT_TRUE(std::filesystem::exists(file("report/confusion.csv")));

  // A model of other classes (two of the three): the error names it.
  std::filesystem::create_directories(file("two"));
  for (const char* name : {"circle", "cross"}) {
    std::filesystem::copy(kFixture / "imgs" / name, file(std::string("two/") + name),
                          std::filesystem::copy_options::recursive);
  }
  ASSERT_EQ(kiln("preprocess " + file("two") + " -o " + file("two.h5") + " --size 12x12").exit_code,
            0);
  ASSERT_EQ(kiln("train " + file("two.h5") + " -o " + file("m3.h5") + " --model mlp --epochs 1")
                .exit_code,
            0);
  const Invocation other = kiln("evaluate " + file("m1.h5") + " " + file("m3.h5") + " " + data());
  EXPECT_EQ(other.exit_code, 1) << other.output;
  EXPECT_NE(other.output.find("m3.h5: predicts other classes than"), std::string::npos)
      << other.output;
}

// --scales auto: the ends and the middle of the range scale_crop trained over.
TEST_F(GraphCliTraining, ScalesAutoSpreadsOverTheTrainedRange) {
  const Invocation train =
      kiln("train " + data() + " -o " + file("scaled.h5") + " --model mlp --epochs 1 " +
           R"(--augment '[{"type": "scale_crop", "size": 10, "scale_range": [10, 14]}]')");
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const Invocation evaluate =
      kiln("evaluate " + file("scaled.h5") + " " + data() + " --crops 10 --scales auto");
  ASSERT_EQ(evaluate.exit_code, 0) << evaluate.output;
  EXPECT_NE(evaluate.output.find("10 crops 10x10 at short side 10, 12, 14"), std::string::npos)
      << evaluate.output;
  const Invocation unscaled = kiln("evaluate '" + (kFixture / "model-v1.h5").string() + "' " +
                                   data() + " --crops 10 --scales auto");
  EXPECT_EQ(unscaled.exit_code, 1);
  EXPECT_NE(unscaled.output.find("trained without scale_crop"), std::string::npos)
      << unscaled.output;
  const Invocation bad = kiln("evaluate " + file("scaled.h5") + " " + data() + " --scales big");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("--scales: expected short sides in pixels"), std::string::npos)
      << bad.output;
}

// kiln import of Keras weights onto a zoo model: a kiln-trained mnist_cnn written in the Keras
// layout by h5py, imported with the normalization it was trained with, evaluates exactly as the
// original.
TEST_F(GraphCliTraining, KerasWeightsOntoAZooModelEvaluateAsTheOriginal) {
  ASSERT_EQ(kiln("train " + data() + " -o " + file("cnn.h5") +
                 " --model mnist_cnn --epochs 2 --batch-size 8")
                .exit_code,
            0);
  const std::string relayout = "/usr/bin/python3 " + std::string(KILN_TEST_SOURCE_DIR) +
                               "/io/relayout_as_keras.py " + file("cnn.h5") + " " +
                               file("keras.h5") +
                               " conv2d_1 conv2d_2 dense_1 dense_2 --flatten-map dense_1:64,4,4";
  const Invocation written = kiln_shell(relayout);
  if (written.exit_code == 3) GTEST_SKIP() << "needs python3-h5py";
  ASSERT_EQ(written.exit_code, 0) << written.output;

  const Invocation no_input = kiln("import " + file("keras.h5") + " --model mnist_cnn -o x.h5");
  EXPECT_EQ(no_input.exit_code, 2);
  EXPECT_NE(no_input.output.find("--model mnist_cnn needs --input C H W"), std::string::npos)
      << no_input.output;
  const Invocation no_model = kiln("import " + file("keras.h5") + " -o x.h5");
  EXPECT_NE(no_model.output.find("holds weights only; give the architecture with --model"),
            std::string::npos)
      << no_model.output;

  const Json n = io::load_model(file("cnn.h5")).preprocessing.at("normalization");
  std::string stats = " --pixel-scale 255 --mean";
  for (const auto& m : n.at("mean")) stats += " " + std::to_string(m.get<double>());
  stats += " --std";
  for (const auto& s : n.at("std")) stats += " " + std::to_string(s.get<double>());
  const Invocation imported =
      kiln("import " + file("keras.h5") + " --model mnist_cnn --input 3 " +
           "12 12 --class-names circle cross square -o " + file("imported.h5") + stats);
  ASSERT_EQ(imported.exit_code, 0) << imported.output;
  const Invocation original = kiln("evaluate " + file("cnn.h5") + " " + data());
  const Invocation again = kiln("evaluate " + file("imported.h5") + " " + data());
  ASSERT_EQ(again.exit_code, 0) << again.output;
  const std::regex accuracy("loss [0-9.]+ +accuracy [0-9.]+");
  std::smatch a, b;
  ASSERT_TRUE(std::regex_search(original.output, a, accuracy)) << original.output;
  ASSERT_TRUE(std::regex_search(again.output, b, accuracy)) << again.output;
  EXPECT_EQ(a.str(), b.str());
}

}  // namespace
}  // namespace kiln
