// kiln evaluate end to end: a tiny model trained with pad_crop, evaluated single- and multi-crop,
// from an HDF5 file and from a folder of class folders; the averaging checked against a direct
// computation (views cut, packed and run one at a time, probabilities averaged here).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <sstream>

#include "io/dataset_reader.hpp"
#include "io/idx_import.hpp"
#include "io/model_file.hpp"
#include "nn/error.hpp"
#include "nn/loss.hpp"
#include "pipeline/inference/evaluator.hpp"
#include "pipeline/inference/predictor.hpp"
#include "pipeline/normalize.hpp"
#include "pipeline/pack.hpp"
#include "pipeline/training/training.hpp"
#include "tests/support/idx_files.hpp"
#include "tests/support/temp_dir.hpp"

namespace kiln {
namespace {

std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::vector<std::string>> rows;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> fields;
    std::stringstream s(line);
    for (std::string f; std::getline(s, f, ',');) fields.push_back(f);
    rows.push_back(fields);
  }
  return rows;
}

class Evaluate : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    const std::string d = dir_->path().string();
    auto [train_images, train_labels] = testing::write_synthetic_idx(d, "train", 600, 12, 10, 4, 1);
    auto [test_images, test_labels] = testing::write_synthetic_idx(d, "test", 120, 12, 10, 4, 2);
    io::import_idx(
        {train_images, train_labels, dir_->file("train.h5"), {"n", "e", "s", "w"}, "test", 0});
    io::import_idx(
        {test_images, test_labels, dir_->file("test.h5"), {"n", "e", "s", "w"}, "test", 0});
    pipeline::TrainConfig r;
    r.data.train = dir_->file("train.h5");
    r.output = dir_->file("model.h5");
    r.epochs = 3;
    r.batch_size = 32;
    r.optimizer.lr = 0.01;
    r.seed = 5;
    r.augment = Json::array({{{"type", "pad_crop"}, {"padding", 1}}});
    pipeline::train_model(r);
  }
  static void TearDownTestSuite() { delete dir_; }

  static pipeline::EvalRequest request(int crops) {
    return {.model_paths = {dir_->file("model.h5")},
            .data_path = dir_->file("test.h5"),
            .views = {.crops = crops}};
  }

  static testing::TempDir* dir_;
};
testing::TempDir* Evaluate::dir_ = nullptr;

TEST_F(Evaluate, DefaultViewsForSmallImagesPadByTheTrainedPadding) {
  const auto model = io::load_model(dir_->file("model.h5"));
  const auto views =
      pipeline::default_views(model.preprocessing, "model.h5", {10, 12}, {10, 12}, {.crops = 10});
  EXPECT_EQ(views.padding, 1);  // half of pad_crop's 1, at least 1
  EXPECT_TRUE(views.scales.empty());
  EXPECT_EQ(views.views_per_image(), 10);
  // Explicit values win; one crop never pads.
  EXPECT_EQ(pipeline::default_views(model.preprocessing, "model.h5", {10, 12}, {10, 12},
                                    {.crops = 5, .padding = 3})
                .padding,
            3);
  EXPECT_EQ(
      pipeline::default_views(model.preprocessing, "model.h5", {10, 12}, {10, 12}, {.crops = 1})
          .padding,
      0);
  const Json pad4 = {{"eval_stages", Json::array({{{"type", "pad_crop"}, {"padding", 4}}})}};
  EXPECT_EQ(pipeline::default_views(pad4, "model.h5", {32, 32}, {32, 32}, {.crops = 10}).padding,
            2);
  const Json no_shift = {{"eval_stages", Json::array()}};
  EXPECT_EQ(
      pipeline::default_views(no_shift, "model.h5", {32, 32}, {32, 32}, {.crops = 10}).padding, 0);
  // A model trained with scale_crop takes its eval scale.
  const Json scale_crop = {{"eval_stages", Json::array({{{"type", "scale_crop"},
                                                         {"size", 224},
                                                         {"scale_range", {256, 480}},
                                                         {"eval_scale", 256}}})}};
  const auto big =
      pipeline::default_views(scale_crop, "model.h5", {300, 400}, {224, 224}, {.crops = 10});
  EXPECT_EQ(big.scales, std::vector<int>{256});
  EXPECT_EQ(big.padding, 0);
}

TEST_F(Evaluate, MultiCropAveragesTheViewsProbabilities) {
  auto r = request(10);
  r.report_dir = dir_->file("report10");
  r.batch_size = 7;  // groups never straddle batches, whatever the batch size
  const auto report = pipeline::evaluate_model(r);
  ASSERT_EQ(report.passes.size(), 1u);
  EXPECT_EQ(report.passes[0].views_per_image, 10);
  EXPECT_EQ(report.passes[0].metrics.samples(), 120);
  const auto rows = read_csv(dir_->file("report10/predictions.csv"));
  ASSERT_EQ(rows.size(), 121u);

  // The same thing computed directly for the first images.
  auto model = io::load_model(dir_->file("model.h5"));
  const auto normalization =
      pipeline::Normalization::from_json(model.preprocessing.at("normalization"));
  const io::DatasetReader data(dir_->file("test.h5"));
  const auto views =
      pipeline::default_views(model.preprocessing, "model.h5", {10, 12}, {10, 12}, {.crops = 10});
  double loss = 0.0;
  for (std::int64_t i = 0; i < 120; ++i) {
    cv::Mat image(12, 10, CV_8UC1);
    data.read_image(i, {image.data, 120});
    std::vector<cv::Mat> cut;
    pipeline::make_views(image, views, cut);
    ASSERT_EQ(cut.size(), 10u);
    std::vector<double> mean(4, 0.0);
    for (const cv::Mat& v : cut) {
      nn::Tensor x({1, 1, 12, 10});
      pipeline::pack_image(v.clone(), normalization, x.span());
      const std::vector<std::uint64_t> index = {static_cast<std::uint64_t>(i)};
      const nn::Tensor& logits = model.model.forward(x, {nn::Mode::kEval, 0, 0, index});
      nn::Tensor p;
      nn::SoftmaxCrossEntropy::compute(logits, std::vector<std::int32_t>{0}, nullptr, &p);
      for (int c = 0; c < 4; ++c) mean[c] += p[c] / 10.0;
    }
    const int predicted =
        static_cast<int>(std::max_element(mean.begin(), mean.end()) - mean.begin());
    const auto& row = rows[static_cast<std::size_t>(i) + 1];
    ASSERT_EQ(row[0], std::to_string(i));
    EXPECT_EQ(std::stoi(row[4]), predicted) << "image " << i;
    EXPECT_NEAR(std::stod(row[6]), mean[predicted], 1e-5) << "image " << i;
    loss -= std::log(mean[static_cast<std::size_t>(data.labels()[i])]);
  }
  EXPECT_NEAR(report.passes[0].metrics.loss(), loss / 120, 1e-5);
}

TEST_F(Evaluate, CompareRunsSingleCropFirstAndMatchesAPlainEvaluation) {
  auto r = request(5);
  r.compare = true;
  const auto both = pipeline::evaluate_model(r);
  ASSERT_EQ(both.passes.size(), 2u);
  EXPECT_EQ(both.passes[0].views_per_image, 1);
  EXPECT_EQ(both.passes[1].views_per_image, 5);
  const auto single = pipeline::evaluate_model(request(1));
  EXPECT_EQ(both.passes[0].metrics.accuracy(), single.passes[0].metrics.accuracy());
  EXPECT_EQ(both.passes[0].metrics.confusion(), single.passes[0].metrics.confusion());
  // A smoke floor (tests/support/idx_files.hpp).
  EXPECT_GT(both.passes[1].metrics.accuracy(), 0.9);  // the task is easy: views must not break it
}

TEST_F(Evaluate, ReportFilesReadBack) {
  auto r = request(1);
  r.report_dir = dir_->file("report1");
  const auto report = pipeline::evaluate_model(r);
  const auto confusion = read_csv(dir_->file("report1/confusion.csv"));
  ASSERT_EQ(confusion.size(), 5u);  // header + 4 classes
  EXPECT_EQ(confusion[0], (std::vector<std::string>{"true\\predicted", "n", "e", "s", "w"}));
  std::int64_t total = 0, diagonal = 0;
  for (std::size_t t = 1; t < 5; ++t) {
    for (std::size_t p = 1; p < 5; ++p) {
      total += std::stoll(confusion[t][p]);
      if (t == p) diagonal += std::stoll(confusion[t][p]);
    }
  }
  EXPECT_EQ(total, 120);
  EXPECT_NEAR(static_cast<double>(diagonal) / 120, report.passes[0].metrics.accuracy(), 1e-12);
  const auto per_class = read_csv(dir_->file("report1/per_class.csv"));
  ASSERT_EQ(per_class.size(), 5u);
  EXPECT_EQ(per_class[0],
            (std::vector<std::string>{"class", "precision", "recall", "f1", "support"}));
  double macro = 0;
  for (std::size_t c = 1; c < 5; ++c) macro += std::stod(per_class[c][3]) / 4;
  EXPECT_NEAR(macro, report.passes[0].metrics.macro_f1(), 1e-5);
  const cv::Mat png = cv::imread(dir_->file("report1/confusion.png"));
  ASSERT_FALSE(png.empty());
  EXPECT_GT(png.cols, 200);
}

TEST_F(Evaluate, AFolderOfClassFoldersGivesTheSameResultAsItsDataset) {
  // Write the test set out as PNGs, a folder per class, then evaluate the folder.
  const io::DatasetReader data(dir_->file("test.h5"));
  const std::filesystem::path root = dir_->path() / "folder";
  for (std::int64_t i = 0; i < data.size(); ++i) {
    cv::Mat image(12, 10, CV_8UC1);
    data.read_image(i, {image.data, 120});
    const auto cls = data.class_names()[static_cast<std::size_t>(data.labels()[i])];
    std::filesystem::create_directories(root / cls);
    char name[32];
    std::snprintf(name, sizeof name, "%04lld.png", static_cast<long long>(i));
    ASSERT_TRUE(cv::imwrite((root / cls / name).string(), image));
  }
  auto r = request(1);
  r.data_path = root.string();
  r.report_dir = dir_->file("report-folder");
  const auto from_folder = pipeline::evaluate_model(r);
  const auto from_file = pipeline::evaluate_model(request(1));
  EXPECT_EQ(from_folder.passes[0].metrics.samples(), 120);
  EXPECT_EQ(from_folder.passes[0].metrics.confusion(), from_file.passes[0].metrics.confusion());
  const auto rows = read_csv(dir_->file("report-folder/predictions.csv"));
  ASSERT_EQ(rows.size(), 121u);
  EXPECT_NE(rows[1][1].find(".png"), std::string::npos) << "the source path is reported";

  // predict on the same files with the same views gives the evaluator's averaged probabilities.
  auto ten = r;
  ten.views.crops = 10;
  ten.report_dir = dir_->file("report-folder10");
  pipeline::evaluate_model(ten);
  const auto rows10 = read_csv(dir_->file("report-folder10/predictions.csv"));
  pipeline::PredictRequest predict{
      .model_paths = {dir_->file("model.h5")}, .paths = {}, .top_k = 1, .views = {.crops = 10}};
  for (std::size_t i = 1; i <= 5; ++i) predict.paths.push_back(rows10[i][1]);
  const auto predictions = pipeline::predict_images(predict);
  ASSERT_EQ(predictions.size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) {
    ASSERT_TRUE(predictions[i].error.empty()) << predictions[i].error;
    EXPECT_EQ(predictions[i].top[0].first, rows10[i + 1][5]) << predictions[i].path;
    EXPECT_NEAR(predictions[i].top[0].second, std::stod(rows10[i + 1][6]), 1e-5);
  }

  // A class folder the model does not know is named.
  std::filesystem::create_directories(root / "zebra");
  std::filesystem::copy_file(
      root / "n" / std::filesystem::directory_iterator(root / "n")->path().filename(),
      root / "zebra" / "z.png");
  try {
    pipeline::evaluate_model(r);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'zebra'"), std::string::npos) << e.what();
  }
}

TEST_F(Evaluate, ACropLargerThanTheScaledImageStopsBeforeReading) {
  auto r = request(5);
  r.views.scales = {6};
  try {
    pipeline::evaluate_model(r);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not fit"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln
