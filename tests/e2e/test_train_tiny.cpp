// End to end on a small synthetic IDX set: import → train (streamed, augmented) → evaluate,
// through the same library calls the kiln commands make.
#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <sstream>

#include "io/dataset_reader.hpp"
#include "io/h5.hpp"
#include "io/idx_import.hpp"
#include "io/image_index.hpp"
#include "io/model_file.hpp"
#include "nn/error.hpp"
#include "nn/loss.hpp"
#include "pipeline/inference/evaluator.hpp"
#include "pipeline/training/training.hpp"
#include "tests/support/dataset_files.hpp"
#include "tests/support/idx_files.hpp"
#include "tests/support/temp_dir.hpp"

namespace kiln {
namespace {

class TinyRun : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string d = dir_.path().string();
    auto [train_images, train_labels] = testing::write_synthetic_idx(d, "train", 600, 12, 10, 4, 1);
    auto [test_images, test_labels] = testing::write_synthetic_idx(d, "test", 200, 12, 10, 4, 2);
    io::import_idx(
        {train_images, train_labels, dir_.file("train.h5"), {"n", "e", "s", "w"}, "test", 0});
    io::import_idx(
        {test_images, test_labels, dir_.file("test.h5"), {"n", "e", "s", "w"}, "test", 0});
  }

  pipeline::TrainConfig request(const std::string& output) const {
    pipeline::TrainConfig r;
    r.data.train = dir_.file("train.h5");
    r.data.validation = dir_.file("test.h5");
    r.output = dir_.file(output);
    r.epochs = 3;
    r.batch_size = 32;
    r.optimizer.lr = 0.01;
    r.seed = 5;
    r.augment = Json::array({{{"type", "horizontal_flip"}, {"p", 0.5}}});
    return r;
  }

  testing::TempDir dir_;
};

TEST_F(TinyRun, TrainsAndEvaluatesFromTheModelFile) {
  std::vector<pipeline::EpochReport> epochs;
  pipeline::TrainObserver observer;
  observer.on_epoch = [&](const pipeline::EpochReport& r) { epochs.push_back(r); };
  const auto result = pipeline::train_model(request("model.h5"), observer);
  ASSERT_EQ(epochs.size(), 3u);
  EXPECT_LT(epochs.back().train.loss, epochs.front().train.loss);
  ASSERT_TRUE(result.validation.has_value());

  const auto report = pipeline::evaluate_model({.model_paths = {dir_.file("model.h5")},
                                                .data_path = dir_.file("test.h5"),
                                                .batch_size = 64,
                                                .threads = 0});
  EXPECT_EQ(report.passes.back().metrics.samples(), 200);
  // A smoke floor (tests/support/idx_files.hpp).
  EXPECT_GT(report.passes.back().metrics.accuracy(), 0.95);
  // Evaluate reproduces the validation of the last epoch: same data, same preprocessing.
  EXPECT_NEAR(report.passes.back().metrics.accuracy(), result.validation->accuracy, 1e-12);
  EXPECT_NEAR(report.passes.back().metrics.loss(), result.validation->loss, 1e-6);
  EXPECT_EQ(report.class_names, (std::vector<std::string>{"n", "e", "s", "w"}));
}

TEST_F(TinyRun, ScheduleEarlyStoppingAndCsvLog) {
  pipeline::TrainConfig r = request("model.h5");
  r.epochs = 6;
  r.schedule = nn::Schedule::parse("step:2:0.5");
  r.log_csv = dir_.file("log/train.csv");
  r.callbacks.early_stopping.enabled = true;  // patience 0: stops at the first non-improving epoch
  std::vector<pipeline::EpochReport> epochs;
  pipeline::TrainObserver observer;
  observer.on_epoch = [&](const pipeline::EpochReport& e) { epochs.push_back(e); };
  pipeline::train_model(r, observer);
  ASSERT_FALSE(epochs.empty());
  // The rates follow the schedule: 0.01, 0.01, 0.005, 0.005, 0.0025, ...
  for (const auto& e : epochs) {
    EXPECT_FLOAT_EQ(e.train.learning_rate,
                    0.01f * std::pow(0.5f, static_cast<float>((e.train.epoch - 1) / 2)));
  }
  // One CSV row per epoch that ran, with validation columns.
  std::ifstream csv(dir_.file("log/train.csv"));
  std::string header, line;
  std::getline(csv, header);
  EXPECT_EQ(
      header,
      "epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds,top5,val_top5,samples");
  std::size_t rows = 0;
  while (std::getline(csv, line)) ++rows;
  EXPECT_EQ(rows, epochs.size());
  // If it stopped early, the last epoch did not improve on the best validation loss.
  if (epochs.size() < 6) {
    double best = 1e9;
    for (std::size_t i = 0; i + 1 < epochs.size(); ++i)
      best = std::min(best, epochs[i].validation->loss);
    EXPECT_GE(epochs.back().validation->loss, best);
  }
}

// The `loss` key reaches the trainer: each loss learns the separable tiny set, and each ends with
// weights of its own (the same seed otherwise); training and validation losses are its values.
TEST_F(TinyRun, EveryLossKeyTrainsWithThatLoss) {
  std::vector<std::vector<float>> weights;
  // The classification losses; mean_absolute_error and huber are regression's (test_targets).
  for (const std::string loss :
       {"softmax_cross_entropy", "sigmoid_binary_cross_entropy", "mean_squared_error"}) {
    pipeline::TrainConfig r = request("loss-" + loss + ".h5");
    r.loss.type = loss;
    r.epochs = 4;
    r.optimizer.lr = 0.05;
    std::vector<pipeline::EpochReport> epochs;
    pipeline::TrainObserver observer;
    observer.on_epoch = [&](const pipeline::EpochReport& e) { epochs.push_back(e); };
    const auto result = pipeline::train_model(r, observer);
    ASSERT_TRUE(result.validation.has_value()) << loss;
    // A smoke floor (tests/support/idx_files.hpp).
    EXPECT_GT(result.validation->accuracy, 0.9) << loss;
    EXPECT_LT(epochs.back().train.loss, epochs.front().train.loss) << loss;
    auto bundle = io::load_model(dir_.file("loss-" + loss + ".h5"));
    const auto& first = bundle.model.parameters().front()->value;
    weights.emplace_back(first.span().begin(), first.span().end());
  }
  ASSERT_EQ(weights.size(), 3u);
  EXPECT_NE(weights[0], weights[1]);
  EXPECT_NE(weights[0], weights[2]);
  EXPECT_NE(weights[1], weights[2]);
}

// docs/design.md contract 1: a run resumed from a checkpoint ends with the weights of one never
// interrupted — same data order, augmentation, optimizer momentum, bit for bit.
TEST_F(TinyRun, TwoEpochsPlusResumeTwoEqualsFourStraight) {
  pipeline::TrainConfig straight = request("straight.h5");
  straight.epochs = 4;
  straight.schedule = nn::Schedule::parse(
      "step:1:0.7");  // the rate changes every epoch: the schedule must resume too
  pipeline::train_model(straight);

  pipeline::TrainConfig first = straight;
  first.epochs = 2;
  first.output = dir_.file("first.h5");
  first.checkpoint = dir_.file("checkpoint.h5");
  pipeline::train_model(first);
  pipeline::TrainConfig second = straight;
  second.output = dir_.file("resumed.h5");
  // Training is deterministic: a silent restart would end with the same weights. The resumed run
  // must train epochs 3 and 4 only.
  std::vector<std::int64_t> trained;
  pipeline::TrainObserver observer;
  observer.on_epoch = [&](const pipeline::EpochReport& r) { trained.push_back(r.train.epoch); };
  pipeline::train_model(second, observer, dir_.file("checkpoint.h5"));
  EXPECT_EQ(trained, (std::vector<std::int64_t>{3, 4}));

  auto a = io::load_model(dir_.file("straight.h5"));
  auto b = io::load_model(dir_.file("resumed.h5"));
  EXPECT_EQ(b.train_state.epoch, 4);
  EXPECT_EQ(a.train_state.step, b.train_state.step);
  auto pa = a.model.parameters(), pb = b.model.parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) {
    ASSERT_TRUE(std::equal(pa[i]->value.span().begin(), pa[i]->value.span().end(),
                           pb[i]->value.span().begin()))
        << "parameter " << i << " differs after resume";
  }
  EXPECT_EQ(a.optimizer_state.slots, b.optimizer_state.slots);
  // Resuming a finished run, or into another model, is refused with the fix.
  EXPECT_THROW(pipeline::train_model(straight, {}, dir_.file("straight.h5")), ConfigError);
  pipeline::TrainConfig other = second;
  other.model.name = "lenet5";
  EXPECT_THROW(pipeline::train_model(other, {}, dir_.file("checkpoint.h5")), ConfigError);
}

TEST_F(TinyRun, SameSeedSameWeightsWithOneOrTwoThreads) {
  {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 1);
    pipeline::train_model(request("one.h5"));
  }
  {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 2);
    pipeline::train_model(request("two.h5"));
  }
  auto one = io::load_model(dir_.file("one.h5"));
  auto two = io::load_model(dir_.file("two.h5"));
  auto a = one.model.parameters(), b = two.model.parameters();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_TRUE(std::equal(a[i]->value.span().begin(), a[i]->value.span().end(),
                           b[i]->value.span().begin()))
        << "parameter " << i << " differs between 1 and 2 threads";
  }
}

TEST_F(TinyRun, EvaluationUsesTheModelsNormalizationNotTheDatasets) {
  pipeline::train_model(request("model.h5"));
  // The same images and labels in a file whose stored statistics are far from the model's: a
  // mean 60 levels higher and twice the spread. Normalized with them, every input would move by
  // about one standard deviation, and the figures with it.
  std::filesystem::copy_file(dir_.file("test.h5"), dir_.file("shifted.h5"));
  {
    io::h5::File f = io::h5::File::open_write(dir_.file("shifted.h5"));
    const io::h5::Group normalization = f.open_group("normalization");
    for (const char* name : {"mean", "std"}) {
      io::h5::Dataset d = normalization.open_dataset(name);
      std::vector<double> values(d.dims().at(0));
      d.read(values.data(), io::h5::Type::kF64);
      for (double& v : values) v = name == std::string("mean") ? v + 60.0 : v * 2.0;
      d.write(values.data(), io::h5::Type::kF64);
    }
    f.close();
  }
  const auto model = io::load_model(dir_.file("model.h5"));
  const double model_mean = model.preprocessing.at("normalization").at("mean").at(0).get<double>();
  const io::DatasetReader shifted(dir_.file("shifted.h5"));
  ASSERT_GT(std::abs(shifted.statistics().mean[0] - model_mean), 50.0);

  const auto evaluate = [&](const std::string& data) {
    return pipeline::evaluate_model(
               {.model_paths = {dir_.file("model.h5")}, .data_path = data, .batch_size = 64})
        .passes.back()
        .metrics;
  };
  const auto own = evaluate(dir_.file("test.h5")), other = evaluate(dir_.file("shifted.h5"));
  EXPECT_EQ(own.confusion(), other.confusion());
  EXPECT_EQ(own.loss(), other.loss());
}

TEST_F(TinyRun, MismatchedDataIsAClearError) {
  pipeline::train_model(request("model.h5"));
  testing::write_indexed_dataset(dir_.file("rgb.h5"), 10, 12, 10, 3, 4);
  try {
    pipeline::evaluate_model({.model_paths = {dir_.file("model.h5")},
                              .data_path = dir_.file("rgb.h5"),
                              .batch_size = 8,
                              .threads = 0});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("channel"), std::string::npos) << e.what();
  }
  testing::write_indexed_dataset(dir_.file("big.h5"), 10, 20, 20, 1, 4);
  EXPECT_THROW(pipeline::evaluate_model({.model_paths = {dir_.file("model.h5")},
                                         .data_path = dir_.file("big.h5"),
                                         .batch_size = 8,
                                         .threads = 0}),
               Error);
  EXPECT_THROW(pipeline::evaluate_model({.model_paths = {dir_.file("test.h5")},
                                         .data_path = dir_.file("test.h5"),
                                         .batch_size = 8,
                                         .threads = 0}),
               Error);
}

// Keras' validation_split takes the last rows (one class on sorted data); kiln's is stratified.
TEST_F(TinyRun, ValidationSplitIsStratifiedFixedAndDisjoint) {
  pipeline::TrainConfig r = request("split.h5");
  r.data.validation.clear();
  r.data.validation_split = 0.25;
  r.epochs = 2;
  std::vector<pipeline::EpochReport> epochs;
  pipeline::TrainObserver observer;
  observer.on_epoch = [&](const pipeline::EpochReport& e) { epochs.push_back(e); };
  pipeline::train_model(r, observer);
  const io::DatasetReader data(dir_.file("train.h5"));
  const auto held = io::stratified_holdout(data.labels(), 4, 0.25, r.seed);
  std::int64_t expected = 0;
  std::vector<std::int64_t> per_class(4, 0), held_per_class(4, 0);
  for (std::size_t i = 0; i < held.size(); ++i) {
    ++per_class[static_cast<std::size_t>(data.labels()[i])];
    if (held[i]) ++held_per_class[static_cast<std::size_t>(data.labels()[i])], ++expected;
  }
  for (int c = 0; c < 4; ++c) {
    EXPECT_EQ(held_per_class[c], std::llround(0.25 * static_cast<double>(per_class[c])))
        << "class " << c;
  }
  ASSERT_EQ(epochs.size(), 2u);
  for (const auto& e : epochs) {
    ASSERT_TRUE(e.validation.has_value());
    EXPECT_EQ(e.validation->samples, expected);
    EXPECT_EQ(e.train.samples, 600 - expected);  // no image on both sides
  }
}

TEST_F(TinyRun, OverfitTrainsTheFirstSamplesWithoutDropoutToFullAccuracy) {
  pipeline::TrainConfig r = request("overfit.h5");
  r.model.name = "mnist_cnn";  // has dropout, which the check removes
  r.overfit = 16;
  r.epochs = 300;
  r.optimizer.lr = 0.05;
  const auto result = pipeline::train_model(r);
  EXPECT_EQ(result.last_epoch.samples, 16);
  EXPECT_EQ(result.last_epoch.accuracy, 1.0);
  EXPECT_LT(result.last_epoch.epoch, 300) << "stops once every sample is right";
  EXPECT_FALSE(result.validation.has_value());
  const auto model = io::load_model(dir_.file("overfit.h5"));
  const Json config = model.model.config();  // held: a loop over a temporary's member dangles
  for (const auto& layer : config.at("layers")) EXPECT_NE(layer.at("type"), "dropout");
  EXPECT_EQ(model.optimizer_config.at("type"), "sgd");
  EXPECT_EQ(model.optimizer_config.at("momentum"), 0.0);
}

// Callback state travels in the checkpoint: with ReduceLROnPlateau and EarlyStopping active,
// 3 epochs + resume to 6 in a run directory equals 6 straight, weights, rates and log alike.
TEST_F(TinyRun, RunDirectoryResumeKeepsCallbackStateAndTheLog) {
  auto configure = [&](const std::string& run, std::int64_t epochs) {
    pipeline::TrainConfig r = request("unused.h5");
    r.epochs = epochs;
    r.run_dir = dir_.file(run);
    r.output = dir_.file(run + "/model.h5");
    r.checkpoint = dir_.file(run + "/checkpoint.h5");
    r.log_csv = dir_.file(run + "/log.csv");
    r.log_every_batches = 5;
    r.callbacks.monitor = "loss";
    r.callbacks.reduce_lr.enabled = true;
    r.callbacks.reduce_lr.options.factor = 0.5;
    r.callbacks.reduce_lr.options.patience = 0;
    r.callbacks.reduce_lr.options.min_delta = 1e9;  // every epoch "plateaus"
    r.callbacks.early_stopping.enabled = true;
    r.callbacks.early_stopping.options.patience = 100;
    return r;
  };
  pipeline::train_model(configure("straight", 6));
  pipeline::train_model(configure("split", 3));
  pipeline::TrainConfig rest = configure("split", 6);
  pipeline::train_model(rest, {}, dir_.file("split/checkpoint.h5"));

  auto a = io::load_model(dir_.file("straight/model.h5"));
  auto b = io::load_model(dir_.file("split/model.h5"));
  EXPECT_EQ(a.train_state.callbacks, b.train_state.callbacks);
  EXPECT_EQ(a.train_state.learning_rate, b.train_state.learning_rate);
  EXPECT_EQ(a.train_state.rate_scale, b.train_state.rate_scale);
  // Epoch 1 sets the first best; each of epochs 2..6 then "plateaus" and halves the rate.
  EXPECT_FLOAT_EQ(b.train_state.learning_rate, 0.01f / 32);
  auto pa = a.model.parameters(), pb = b.model.parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) {
    ASSERT_TRUE(std::equal(pa[i]->value.span().begin(), pa[i]->value.span().end(),
                           pb[i]->value.span().begin()))
        << "parameter " << i << " differs after resume";
  }
  // The log is one history of 6 epochs with the same rates; the plots are there.
  auto column = [](const std::string& path, int index) {
    std::ifstream in(path);
    std::string line;
    std::vector<std::string> values;
    std::getline(in, line);
    while (std::getline(in, line)) {
      std::stringstream fields(line);
      std::string f;
      for (int k = 0; k <= index; ++k) std::getline(fields, f, ',');
      values.push_back(f);
    }
    return values;
  };
  EXPECT_EQ(column(dir_.file("split/log.csv"), 0),
            (std::vector<std::string>{"1", "2", "3", "4", "5", "6"}));
  EXPECT_EQ(column(dir_.file("split/log.csv"), 5), column(dir_.file("straight/log.csv"), 5));
  // The batch log: 19 batches per epoch, a row every 5 → 3 rows per epoch; resumed, identical.
  auto text = [](const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string batches = text(dir_.file("split/batches.csv"));
  EXPECT_EQ(std::count(batches.begin(), batches.end(), '\n'), 1 + 6 * 3);
  EXPECT_EQ(batches, text(dir_.file("straight/batches.csv")));
  // best.h5 holds the epoch with the lowest loss, also across the resume.
  const auto losses = column(dir_.file("split/log.csv"), 1);
  const auto lowest = std::min_element(
      losses.begin(), losses.end(), [](auto& x, auto& y) { return std::stod(x) < std::stod(y); });
  const auto best = io::load_model(dir_.file("split/best.h5"));
  ASSERT_GE(best.train_state.epoch, 1);
  // (The log rounds to 6 digits, so compare values: two epochs may print the same.)
  EXPECT_EQ(losses[static_cast<std::size_t>(best.train_state.epoch - 1)], *lowest);
  EXPECT_EQ(io::load_model(dir_.file("straight/best.h5")).train_state.epoch,
            best.train_state.epoch);
  for (const char* png : {"loss.png", "accuracy.png", "lr.png"}) {
    const cv::Mat image = cv::imread(dir_.file(std::string("split/") + png));
    EXPECT_EQ(image.size(), cv::Size(640, 400)) << png;
  }
}

// TerminateOnNaN: the first non-finite loss stops the run with the epoch, the step and the rate,
// and the checkpoint of the last good epoch stays as it was.
TEST_F(TinyRun, ADivergingRunStopsAndKeepsTheLastGoodCheckpoint) {
  pipeline::TrainConfig r = request("nan.h5");
  r.schedule = nn::Schedule::parse("piecewise:0=0.01,1=1e30");  // epoch 1 trains, epoch 2 explodes
  r.checkpoint = dir_.file("nan-checkpoint.h5");
  try {
    pipeline::train_model(r);
    FAIL() << "expected the run to stop";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("at epoch 2"), std::string::npos) << what;
    EXPECT_NE(what.find("learning rate (1e+30)"), std::string::npos) << what;
  }
  EXPECT_FALSE(std::filesystem::exists(dir_.file("nan.h5")));
  auto last_good = io::load_model(dir_.file("nan-checkpoint.h5"));
  EXPECT_EQ(last_good.train_state.epoch, 1);
  for (const auto* p : last_good.model.parameters()) {
    for (const float v : p->value.span()) ASSERT_TRUE(std::isfinite(v));
  }
}

// The config can name the evaluation stages apart from the training ones.
TEST_F(TinyRun, EvalStagesCanDifferFromTheTrainingStages) {
  pipeline::TrainConfig r = request("eval-stages.h5");
  r.augment = Json::array({{{"type", "pad_crop"}, {"padding", 1}}});
  r.eval_augment = Json::array({{{"type", "vertical_flip"}, {"p", 0.5}}});
  r.epochs = 1;
  pipeline::train_model(r);
  const auto model = io::load_model(dir_.file("eval-stages.h5"));
  ASSERT_EQ(model.preprocessing.at("eval_stages").size(), 1u);
  EXPECT_EQ(model.preprocessing.at("eval_stages")[0].at("type"), "vertical_flip");
  EXPECT_EQ(model.preprocessing.at("train_stages")[0].at("type"), "pad_crop");
}

// Caffe-style mean-image normalization: trained, stored as a model-file array, and evaluation
// (from that array, not the dataset) reproduces the last validation.
TEST_F(TinyRun, MeanImageNormalizationTravelsInTheModelFile) {
  pipeline::TrainConfig r = request("mean-image.h5");
  r.normalization = "mean_image";
  const auto result = pipeline::train_model(r);
  const auto model = io::load_model(dir_.file("mean-image.h5"));
  ASSERT_EQ(model.arrays.count("mean_image"), 1u);
  EXPECT_EQ(model.arrays.at("mean_image").size(), 12u * 10u);
  EXPECT_EQ(model.preprocessing.at("normalization").at("mode"), "mean_image");
  const auto report = pipeline::evaluate_model(
      {.model_paths = {dir_.file("mean-image.h5")}, .data_path = dir_.file("test.h5")});
  EXPECT_NEAR(report.passes.back().metrics.accuracy(), result.validation->accuracy, 1e-12);
  // A smoke floor (tests/support/idx_files.hpp).
  EXPECT_GT(report.passes.back().metrics.accuracy(), 0.9);
  // Crops change the size the mean image was fitted on: refused with the fix.
  r.augment = Json::array({{{"type", "scale_crop"}, {"size", 8}, {"scale_range", {10, 12}}}});
  try {
    pipeline::train_model(r);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("normalization mode channel"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace kiln
