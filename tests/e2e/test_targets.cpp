// End to end for the tasks beyond one class per image: a multi-label and a regression dataset
// whose targets follow from the pixels, trained, evaluated (single and multi-crop) and predicted
// through the library calls the kiln commands make; and the config mistakes of these tasks.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <opencv2/imgcodecs.hpp>

#include "io/dataset_writer.hpp"
#include "io/model_file.hpp"
#include "io/run_files/csv_log.hpp"
#include "nn/error.hpp"
#include "nn/random.hpp"
#include "pipeline/inference/evaluator.hpp"
#include "pipeline/inference/predictor.hpp"
#include "pipeline/training/training.hpp"
#include "tests/support/temp_dir.hpp"

namespace kiln {
namespace {

// summary.csv of an evaluate --report folder: metric -> value.
std::map<std::string, double> summary_csv(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "metric,value") << path;
  std::map<std::string, double> figures;
  while (std::getline(in, line)) {
    const auto comma = line.find(',');
    const std::string value = line.substr(comma + 1);  // empty: undefined
    figures[line.substr(0, comma)] =
        value.empty() ? std::numeric_limits<double>::quiet_NaN() : std::stod(value);
  }
  return figures;
}

// 12×12 grey images: the left half lit at brightness a, the right half at b (each 0 or a level
// in [80, 255]), with noise. Multi-label: classes "left" and "right", present when lit.
// Regression: the values (a / 255, b / 255).
void write_halves(const std::string& path, nn::Task task, std::int64_t n, std::uint64_t seed) {
  io::DatasetSpec spec;
  spec.height = spec.width = 12;
  spec.channels = 1;
  spec.task = task;
  spec.class_names = task == nn::Task::kMultiLabel ? std::vector<std::string>{"left", "right"}
                                                   : std::vector<std::string>{"a", "b"};
  io::DatasetWriter writer(path, spec);
  std::vector<std::uint8_t> images;
  std::vector<float> targets;
  nn::Rng rng({seed, 0, 0, 7});
  for (std::int64_t i = 0; i < n; ++i) {
    int level[2];
    for (int& l : level) l = rng.uniform() < 0.5 ? 0 : static_cast<int>(rng.randint(80, 256));
    for (int y = 0; y < 12; ++y)
      for (int x = 0; x < 12; ++x) {
        const int v = level[x < 6 ? 0 : 1] + static_cast<int>(rng.randint(0, 20));
        images.push_back(static_cast<std::uint8_t>(std::min(v, 255)));
      }
    for (const int l : level)
      targets.push_back(task == nn::Task::kMultiLabel ? (l > 0 ? 1.f : 0.f)
                                                      : static_cast<float>(l) / 255.f);
  }
  writer.append(images, std::vector<std::int32_t>(static_cast<std::size_t>(n), 0),
                io::DatasetWriter::Counting::kHere, targets);
  writer.commit();
}

class TargetRun : public ::testing::Test {
 protected:
  pipeline::TrainConfig request(nn::Task task, const std::string& name) {
    const std::string train = dir_.file(name + "-train.h5"), test = dir_.file(name + "-test.h5");
    write_halves(train, task, 600, 1);
    write_halves(test, task, 200, 2);
    pipeline::TrainConfig r;
    r.data.train = train;
    r.data.validation = test;
    r.output = dir_.file(name + ".h5");
    r.model.name = "mlp";
    r.epochs = 6;
    r.batch_size = 32;
    r.optimizer.type = "adam";
    r.optimizer.lr = 0.003;
    r.seed = 3;
    r.augment = Json::array({{{"type", "pad_crop"}, {"padding", 1}}});
    return r;
  }
  pipeline::EvalReport evaluate(const std::string& name, int crops,
                                const std::string& report_dir = "") {
    pipeline::EvalRequest e;
    e.report_dir = report_dir;
    e.model_paths = {dir_.file(name + ".h5")};
    e.data_path = dir_.file(name + "-test.h5");
    e.views.crops = crops;
    e.compare = crops > 1;
    return pipeline::evaluate_model(e);
  }
  testing::TempDir dir_;
};

TEST_F(TargetRun, MultiLabelTrainsEvaluatesAndPredictsLabelSets) {
  pipeline::TrainConfig r = request(nn::Task::kMultiLabel, "ml");
  r.augment.push_back({{"type", "mixup"}, {"alpha", 0.2}, {"p", 0.5}});
  r.loss.label_smoothing = 0.05;
  const pipeline::TrainResult result = pipeline::train_model(r);
  EXPECT_EQ(result.last_epoch.task, nn::Task::kMultiLabel);
  ASSERT_TRUE(result.validation);
  EXPECT_GT(result.validation->accuracy, 0.9);  // exact label sets
  // Five crops, no mirrors: a mirror swaps the halves, and so these labels.
  const pipeline::EvalReport report = evaluate("ml", 5, dir_.path().string());
  ASSERT_EQ(report.passes.size(), 2u);
  for (const auto& pass : report.passes) {
    ASSERT_TRUE(pass.multi_label);
    EXPECT_EQ(pass.multi_label->samples(), 200);
    EXPECT_GT(pass.multi_label->mean_average_precision(), 0.97) << pass.views;
    EXPECT_GT(pass.multi_label->micro_f1(), 0.9) << pass.views;
  }
  // --report: per_class.csv (AP, F1, support) and one predictions.csv row per image, read back.
  const io::LogTable per_class = io::read_csv_log(dir_.file("per_class.csv"));
  ASSERT_EQ(per_class.rows.size(), 2u);
  EXPECT_NEAR(per_class.at_row(1, "average_precision"),
              report.passes.back().multi_label->average_precision(1), 1e-6);
  // summary.csv: the pass's figures, as kiln report shows them.
  const std::map<std::string, double> summary = summary_csv(dir_.file("summary.csv"));
  const nn::MultiLabelMetrics& asked = *report.passes.back().multi_label;
  EXPECT_EQ(summary.at("images"), 200);
  EXPECT_EQ(summary.at("views_per_image"), 5);
  EXPECT_NEAR(summary.at("mAP"), asked.mean_average_precision(), 1e-8);
  EXPECT_NEAR(summary.at("micro_f1"), asked.micro_f1(), 1e-8);
  EXPECT_NEAR(summary.at("subset_accuracy"), asked.subset_accuracy(), 1e-8);
  const io::LogTable predicted = io::read_csv_log(dir_.file("predictions.csv"));
  ASSERT_EQ(predicted.rows.size(), 200u);
  EXPECT_EQ(predicted.columns,
            (std::vector<std::string>{"index", "source", "left", "predicted_left", "right",
                                      "predicted_right"}));
  for (std::size_t r = 0; r < 200; ++r) {
    const double p = predicted.at_row(r, "predicted_right");
    EXPECT_TRUE(p > 0 && p < 1) << r;
    EXPECT_TRUE(predicted.at_row(r, "right") == 0 || predicted.at_row(r, "right") == 1);
  }
  // predict: a bright left half alone is "left" only.
  cv::Mat left(12, 12, CV_8U, cv::Scalar(0));
  left.colRange(0, 6).setTo(200);
  const std::string image = dir_.file("left.png");
  cv::imwrite(image, left);
  pipeline::PredictRequest p;
  p.model_paths = {dir_.file("ml.h5")};
  p.paths = {image};
  const auto predictions = pipeline::predict_images(p);
  ASSERT_EQ(predictions.size(), 1u);
  ASSERT_EQ(predictions[0].top.size(), 1u) << predictions[0].error;
  EXPECT_EQ(predictions[0].top[0].first, "left");
  EXPECT_GT(predictions[0].top[0].second, 0.5f);
}

TEST_F(TargetRun, RegressionTrainsEachLossAndBeatsTheMeanByFar) {
  for (const std::string loss : {"mean_squared_error", "mean_absolute_error", "huber"}) {
    pipeline::TrainConfig r = request(nn::Task::kRegression, "reg-" + loss);
    r.loss.type = loss;
    r.loss.delta = 0.1;
    std::vector<pipeline::EpochReport> epochs;
    pipeline::TrainObserver observer;
    observer.on_epoch = [&](const pipeline::EpochReport& e) { epochs.push_back(e); };
    const pipeline::TrainResult result = pipeline::train_model(r, observer);
    EXPECT_LT(epochs.back().train.mae, epochs.front().train.mae) << loss;
    ASSERT_TRUE(result.validation);
    const pipeline::EvalReport report = evaluate("reg-" + loss, 5);
    const auto& multi = report.passes.back();
    ASSERT_TRUE(multi.regression);
    // The validation figure during training is the single-crop evaluation's MAE.
    EXPECT_NEAR(report.passes.front().regression->mae(), result.validation->mae, 1e-5) << loss;
    EXPECT_LT(multi.regression->mae(), multi.regression->mean_baseline_mae() / 4) << loss;
    EXPECT_GT(multi.regression->r2(), 0.8) << loss;
  }
  // --report: each image's values and the model's, whose mean absolute error is the pass's.
  const std::string folder = dir_.file("reg-report");
  std::filesystem::create_directories(folder);
  const pipeline::EvalReport single = evaluate("reg-huber", 1, folder);
  const nn::RegressionMetrics& figures = *single.passes.back().regression;
  const std::map<std::string, double> summary = summary_csv(folder + "/summary.csv");
  EXPECT_NEAR(summary.at("MAE"), figures.mae(), 1e-8);
  EXPECT_NEAR(summary.at("RMSE"), figures.rmse(), 1e-8);
  EXPECT_NEAR(summary.at("R2"), figures.r2(), 1e-8);
  EXPECT_NEAR(summary.at("mean_baseline_MAE"), figures.mean_baseline_mae(), 1e-8);
  const io::LogTable rows = io::read_csv_log(folder + "/predictions.csv");
  ASSERT_EQ(rows.rows.size(), 200u);
  double error = 0;
  for (std::size_t r = 0; r < 200; ++r) {
    for (const char* v : {"a", "b"})
      error += std::abs(rows.at_row(r, v) - rows.at_row(r, std::string("predicted_") + v));
  }
  EXPECT_NEAR(error / 400, single.passes.back().regression->mae(), 1e-5);
  // kiln inspect names the task and the values.
  const std::string described = io::describe_model(dir_.file("reg-huber.h5"));
  EXPECT_NE(described.find("task      regression\n  values    2: a, b"), std::string::npos)
      << described;
}

TEST_F(TargetRun, ConfigMistakesOfTheTasksAreNamed) {
  auto error_of = [](const pipeline::TrainConfig& r) {
    try {
      pipeline::train_model(r);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  pipeline::TrainConfig r = request(nn::Task::kRegression, "bad");
  r.epochs = 1;
  r.augment = Json::array({{{"type", "cutmix"}, {"alpha", 1.0}}});
  EXPECT_NE(error_of(r).find("use mixup with task regression"), std::string::npos);
  r.augment = Json::array();
  r.task = "multi_label";
  EXPECT_NE(error_of(r).find("'task' is multi_label but"), std::string::npos);
  r.task = "";
  r.loss.type = "softmax_cross_entropy";
  EXPECT_NE(error_of(r).find("does not fit task regression"), std::string::npos);
  pipeline::TrainConfig m = request(nn::Task::kMultiLabel, "bad-ml");
  m.epochs = 1;
  m.data.sampler = "balanced";
  EXPECT_NE(error_of(m).find("'data.sampler' balanced draws by class"), std::string::npos);
  m.data.sampler = "random";
  m.loss.class_weights = "auto";
  EXPECT_NE(error_of(m).find("class weights are for task classification"), std::string::npos);
  // A classification model on multi-label data is refused by evaluate, naming both.
  m.loss.class_weights = nullptr;
  m.output = dir_.file("ml-model.h5");
  pipeline::train_model(m);
  pipeline::EvalRequest e;
  e.model_paths = {m.output};
  e.data_path = dir_.file("bad-train.h5");  // regression data
  try {
    pipeline::evaluate_model(e);
    FAIL() << "a multi-label model evaluated regression data";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("holds regression targets but"), std::string::npos)
        << err.what();
  }
}

}  // namespace
}  // namespace kiln
