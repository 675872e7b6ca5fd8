#include "pipeline/training.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>

#include "io/checkpoint.hpp"
#include "io/csv_log.hpp"
#include "io/dataset_reader.hpp"
#include "io/image_index.hpp"
#include "io/model_file.hpp"
#include "io/run_plots.hpp"
#include "nn/callbacks/early_stopping.hpp"
#include "nn/callbacks/lr_schedule.hpp"
#include "nn/callbacks/reduce_on_plateau.hpp"
#include "nn/error.hpp"
#include "nn/model.hpp"
#include "nn/schedule.hpp"
#include "nn/zoo.hpp"
#include "pipeline/folder_dataset.hpp"
#include "pipeline/loader.hpp"
#include "pipeline/normalize.hpp"
#include "pipeline/transforms/pca_lighting.hpp"
#include "pipeline/transforms/registry.hpp"

namespace kiln::pipeline {
namespace {

void check_request(const TrainRequest& r) {
  if (r.epochs < 1) throw Error("--epochs must be >= 1, got " + std::to_string(r.epochs));
  if (r.batch_size < 1)
    throw Error("--batch-size must be >= 1, got " + std::to_string(r.batch_size));
  if (!(r.learning_rate > 0.f))
    throw Error("--lr must be > 0, got " + std::to_string(r.learning_rate));
  if (r.output_path.empty()) throw Error("an output model path is required (--output)");
  nn::Schedule::parse(r.lr_schedule);  // a typo stops here, before any data is read
  if (!r.monitor.empty()) {
    if (r.monitor != "loss" && r.monitor != "accuracy" && r.monitor != "val_loss" &&
        r.monitor != "val_accuracy") {
      throw Error("--monitor " + r.monitor +
                  " is not a metric; use loss, accuracy, val_loss or val_accuracy");
    }
    if (r.monitor.rfind("val_", 0) == 0 && r.validation_path.empty() && r.validation_split <= 0) {
      throw Error("--monitor " + r.monitor +
                  " needs validation data: add --validation FILE or --validation-split F");
    }
  }
}

// Hands every epoch's logs (validation included, computed by the trainer) to the observer.
class EpochReporter final : public nn::Callback {
 public:
  EpochReporter(const TrainObserver& observer, std::int64_t epochs, std::int64_t batches,
                std::int64_t batch_size, TrainResult& result)
      : observer_(observer),
        epochs_(epochs),
        batches_(batches),
        batch_size_(batch_size),
        result_(result) {}

  void on_epoch_begin(nn::TrainState& /*state*/) override {
    start_ = std::chrono::steady_clock::now();
  }
  void on_batch_end(const nn::TrainState& state, std::int64_t batch, double loss) override {
    if (!observer_.on_batch) return;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double rate = seconds > 0 ? static_cast<double>((batch + 1) * batch_size_) / seconds : 0;
    const double eta = batch + 1 < batches_ ? seconds / static_cast<double>(batch + 1) *
                                                  static_cast<double>(batches_ - batch - 1)
                                            : 0.0;
    observer_.on_batch({state.epoch + 1, epochs_, batch, batches_, loss, rate, eta});
  }

  nn::Verdict on_epoch_end(nn::TrainState& /*state*/, const nn::EpochLogs& logs) override {
    result_.last_epoch = logs;
    result_.validation = logs.validation;
    if (observer_.on_epoch) observer_.on_epoch({logs, logs.validation, epochs_});
    return nn::Verdict::kContinue;
  }

 private:
  const TrainObserver& observer_;
  std::int64_t epochs_, batches_, batch_size_;
  TrainResult& result_;
  std::chrono::steady_clock::time_point start_{};
};

// Stops the sanity check as soon as every training sample is classified right.
class StopAtPerfectAccuracy final : public nn::Callback {
 public:
  nn::Verdict on_epoch_end(nn::TrainState& /*state*/, const nn::EpochLogs& logs) override {
    return logs.accuracy >= 1.0 ? nn::Verdict::kStop : nn::Verdict::kContinue;
  }
};

// The sanity check's request: the first n samples, nothing that fights memorisation.
TrainRequest overfit_request(TrainRequest r) {
  r.limit = r.overfit;
  r.batch_size = std::min(r.batch_size, r.overfit);
  r.train_stages = Json::array();
  r.optimizer = {{"type", "sgd"}, {"momentum", 0.0}};
  r.lr_schedule = "constant";
  r.validation_path.clear();
  r.validation_split = 0.0;
  r.early_stopping.reset();
  r.reduce_lr.reset();
  r.monitor.clear();
  return r;
}

// Dropout layers out, regularizers off: what the sanity check trains.
Json without_regularization(Json model_config) {
  Json layers = Json::array();
  for (Json layer : model_config.at("layers")) {
    if (layer.value("type", "") == "dropout") continue;
    layer.erase("kernel_regularizer");
    layer.erase("bias_regularizer");
    layers.push_back(std::move(layer));
  }
  model_config["layers"] = std::move(layers);
  return model_config;
}

// The model of a "model.layers" list on this data: its shapes must fit the images, and its last
// layer must give one output per class (the loss puts the softmax on top).
Json layer_list_model(const Json& layers, const nn::Shape& sample, std::int64_t classes) {
  const Json config = {{"input", {sample.c, sample.h, sample.w}}, {"layers", layers}};
  std::int64_t outputs = 0;
  try {
    outputs = nn::Sequential::from_config(config).output_shape().per_sample();
  } catch (const Error& e) {
    throw Error("model.layers on " + std::to_string(sample.c) + "x" + std::to_string(sample.h) +
                "x" + std::to_string(sample.w) + " (CxHxW) images: " + e.what());
  }
  if (outputs != classes) {
    throw Error("model.layers: the last layer gives " + std::to_string(outputs) +
                " outputs per image but the data has " + std::to_string(classes) +
                " classes; end the list with {\"type\": \"dense\", \"units\": " +
                std::to_string(classes) + "}");
  }
  return config;
}

}  // namespace

TrainResult train_model(const TrainRequest& original, const TrainObserver& observer) {
  check_request(original);
  const TrainRequest request = original.overfit > 0 ? overfit_request(original) : original;
  TrainResult result;
  // A folder of class folders is staged for this run (its files' own bytes, decoded every epoch).
  std::unique_ptr<FolderDataset> train_folder, validation_folder;
  std::string train_file = request.train_path, validation_file = request.validation_path;
  BuildOptions staging;
  staging.encoding = "original";
  if (std::filesystem::is_directory(request.train_path)) {
    train_folder =
        std::make_unique<FolderDataset>(request.train_path, staging, std::vector<std::string>{},
                                        [&](std::int64_t done, std::int64_t total) {
                                          if (observer.on_staging)
                                            observer.on_staging(request.train_path, done, total);
                                        });
    train_file = train_folder->path();
    result.skipped = train_folder->skipped();
  }
  auto train_data = std::make_shared<const io::DatasetReader>(train_file);
  if (!validation_file.empty() && std::filesystem::is_directory(validation_file)) {
    validation_folder = std::make_unique<FolderDataset>(
        validation_file, staging, train_data->class_names(),
        [&](std::int64_t done, std::int64_t total) {
          if (observer.on_staging) observer.on_staging(request.validation_path, done, total);
        });
    validation_file = validation_folder->path();
    const auto& more = validation_folder->skipped();
    result.skipped.insert(result.skipped.end(), more.begin(), more.end());
  }
  const Normalization normalization = Normalization::from_statistics(
      train_data->statistics(), train_data->channel_order(), request.normalization);

  LoaderOptions train_options;
  train_options.batch_size = request.batch_size;
  train_options.seed = request.seed;
  train_options.mode = nn::Mode::kTrain;
  train_options.threads = request.threads;
  train_options.limit = request.limit;
  // A validation split: a stratified, seeded hold-out of the training file, fixed for the run.
  std::vector<std::uint64_t> held_out;
  if (request.validation_split > 0.0) {
    const std::vector<bool> holdout =
        io::stratified_holdout(train_data->labels(), train_data->class_names().size(),
                               request.validation_split, request.seed);
    for (std::uint64_t i = 0; i < holdout.size(); ++i) {
      (holdout[i] ? held_out : train_options.subset).push_back(i);
    }
    if (held_out.empty() || train_options.subset.empty()) {
      throw Error(request.train_path + ": a validation split of " +
                  std::to_string(request.validation_split) + " leaves one part empty");
    }
  }
  auto stages = make_stages(with_fitted_pca(
      request.train_stages, train_data->statistics().covariance, request.train_path));
  const Json train_stages_config = stages_config(stages);
  const Json eval_stages_config =
      request.eval_stages.is_null()
          ? train_stages_config
          : stages_config(make_stages(with_fitted_pca(
                request.eval_stages, train_data->statistics().covariance, request.train_path)));
  Loader train_loader(train_data, normalization, std::move(stages), train_options);

  std::unique_ptr<Loader> validation_loader;
  if (!held_out.empty()) {
    LoaderOptions eval_options = train_options;
    eval_options.mode = nn::Mode::kEval;
    eval_options.limit = 0;
    eval_options.subset = std::move(held_out);
    validation_loader = std::make_unique<Loader>(train_data, normalization,
                                                 make_stages(eval_stages_config), eval_options);
  } else if (!request.validation_path.empty()) {
    auto validation_data = std::make_shared<const io::DatasetReader>(validation_file);
    if (validation_data->height() != train_data->height() ||
        validation_data->width() != train_data->width()) {
      throw Error(request.validation_path + ": images are " +
                  std::to_string(validation_data->height()) + "x" +
                  std::to_string(validation_data->width()) + " but the training images are " +
                  std::to_string(train_data->height()) + "x" + std::to_string(train_data->width()));
    }
    LoaderOptions eval_options = train_options;
    eval_options.mode = nn::Mode::kEval;
    eval_options.limit = 0;
    validation_loader = std::make_unique<Loader>(validation_data, normalization,
                                                 make_stages(eval_stages_config), eval_options);
  }

  const auto classes = static_cast<std::int64_t>(train_data->class_names().size());
  Json model_config =
      request.model_layers.is_null()
          ? nn::builtin_model(request.model, train_loader.sample_shape(), classes,
                              request.model_options)
          : layer_list_model(request.model_layers, train_loader.sample_shape(), classes);
  if (request.overfit > 0) model_config = without_regularization(std::move(model_config));
  // The stages' eval() forms are what evaluate/predict run; the train list is kept for the record.
  const Json preprocessing = {
      {"normalization", normalization.to_json()},
      {"eval_stages", eval_stages_config},
      {"train_stages", train_stages_config},
      {"input", {train_data->channels(), train_data->height(), train_data->width()}},
      // Variable-size data (input H = W = 0): how kiln preprocess sized it, for predict.
      {"storage",
       {{"short_side", train_data->short_side()}, {"max_side", train_data->max_side()}}}};

  // A fresh start, or everything from a checkpoint: weights, optimizer state, epoch, step, seed.
  std::optional<io::ModelBundle> resumed;
  if (!request.resume_path.empty()) {
    resumed = io::load_model(request.resume_path);
    if (resumed->model.config() != nn::Sequential::from_config(model_config).config()) {
      throw Error("--resume " + request.resume_path +
                  ": the checkpoint holds another model or input size; "
                  "resume with the same --model, --width (or model.layers) and data");
    }
    if (resumed->train_state.epoch >= request.epochs) {
      throw Error("--resume " + request.resume_path + ": already trained for " +
                  std::to_string(resumed->train_state.epoch) + " epochs; raise --epochs");
    }
  }
  nn::Sequential model =
      resumed ? std::move(resumed->model) : nn::Sequential::from_config(model_config);
  if (!resumed) model.initialize(request.seed);
  if (observer.on_start) observer.on_start(model.summary());

  const std::unique_ptr<nn::Optimizer> optimizer =
      nn::make_optimizer(resumed ? resumed->optimizer_config : request.optimizer);
  nn::TrainState state;
  state.seed = request.seed;
  state.learning_rate = request.learning_rate;
  if (resumed) {
    optimizer->load(resumed->optimizer_state);
    state = resumed->train_state;
  }

  const std::int64_t batches =
      (train_loader.num_samples() + request.batch_size - 1) / request.batch_size;
  EpochReporter reporter(observer, request.epochs, batches, request.batch_size, result);
  const std::string monitor =
      !request.monitor.empty() ? request.monitor : (validation_loader ? "val_loss" : "loss");
  nn::LrScheduleCallback schedule(nn::Schedule::parse(request.lr_schedule), request.learning_rate,
                                  request.epochs);
  std::vector<nn::Callback*> callbacks = {&schedule};
  std::unique_ptr<nn::ReduceOnPlateau> plateau;
  if (request.reduce_lr) {
    nn::ReduceOnPlateauOptions o = *request.reduce_lr;
    if (o.monitor.empty()) o.monitor = monitor;
    plateau = std::make_unique<nn::ReduceOnPlateau>(o);
    plateau->restore(state);
    callbacks.push_back(plateau.get());
  }
  std::unique_ptr<io::CsvLog> csv;
  if (!request.csv_log.empty()) {
    csv = std::make_unique<io::CsvLog>(request.csv_log, resumed ? state.epoch : 0);
    callbacks.push_back(csv.get());
  }
  std::unique_ptr<io::BatchCsvLog> batch_log;
  if (request.log_every_batches > 0 && !request.run_dir.empty()) {
    batch_log = std::make_unique<io::BatchCsvLog>(
        (std::filesystem::path(request.run_dir) / "batches.csv").string(),
        request.log_every_batches, resumed ? state.epoch : 0);
    callbacks.push_back(batch_log.get());
  }
  std::unique_ptr<io::RunPlots> plots;
  if (!request.run_dir.empty() && csv) {
    plots = std::make_unique<io::RunPlots>(request.run_dir, request.csv_log);
    callbacks.push_back(plots.get());
  }
  StopAtPerfectAccuracy perfect;
  if (request.overfit > 0) callbacks.push_back(&perfect);
  callbacks.push_back(&reporter);
  std::unique_ptr<nn::EarlyStopping> early;  // after the log and report: they see a stopping epoch
  if (request.early_stopping) {
    nn::EarlyStoppingOptions o = *request.early_stopping;
    if (o.monitor.empty()) o.monitor = monitor;
    early = std::make_unique<nn::EarlyStopping>(o, &model);
    early->restore(state);
    callbacks.push_back(early.get());
  }
  std::unique_ptr<io::Checkpoint> best;
  if (!request.best_path.empty()) {
    best = std::make_unique<io::Checkpoint>(request.best_path, model, *optimizer, preprocessing,
                                            train_data->class_names(), io::BestOnly{monitor},
                                            normalization.arrays());
    callbacks.push_back(best.get());
  }
  // Last: it saves the state every other callback left for this epoch.
  std::unique_ptr<io::Checkpoint> checkpoint;
  if (!request.checkpoint_path.empty()) {
    checkpoint = std::make_unique<io::Checkpoint>(request.checkpoint_path, model, *optimizer,
                                                  preprocessing, train_data->class_names(),
                                                  std::nullopt, normalization.arrays());
    callbacks.push_back(checkpoint.get());
  }
  nn::Trainer::fit(model, *optimizer, train_loader, state, request.epochs, callbacks,
                   nn::SoftmaxCrossEntropy{}, validation_loader.get());

  io::save_model(request.output_path, model, *optimizer, state, preprocessing,
                 train_data->class_names(), normalization.arrays());
  return result;
}

}  // namespace kiln::pipeline
