#include "pipeline/training/training.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <span>

#include "io/atomic_file.hpp"
#include "io/charts/run_plots.hpp"
#include "io/dataset_reader.hpp"
#include "io/image_index.hpp"
#include "io/model_file.hpp"
#include "io/run_files/checkpoint.hpp"
#include "io/run_files/csv_log.hpp"
#include "io/run_files/diagnostics_log.hpp"
#include "io/run_files/lr_find_files.hpp"
#include "nn/callbacks/diagnostics.hpp"
#include "nn/callbacks/early_stopping.hpp"
#include "nn/callbacks/lr_schedule.hpp"
#include "nn/callbacks/reduce_on_plateau.hpp"
#include "nn/error.hpp"
#include "nn/loss.hpp"
#include "nn/model/blocks.hpp"
#include "nn/model/graph.hpp"
#include "nn/model/model.hpp"
#include "nn/model/warm_start.hpp"
#include "nn/model/zoo.hpp"
#include "nn/training/schedule.hpp"
#include "nn/training/weight_decay.hpp"
#include "pipeline/batch_mixing.hpp"
#include "pipeline/dataset/folder_dataset.hpp"
#include "pipeline/loader.hpp"
#include "pipeline/normalize.hpp"
#include "pipeline/training/class_weights.hpp"
#include "pipeline/transforms/pca_lighting.hpp"
#include "pipeline/transforms/registry.hpp"

namespace kiln::pipeline {
namespace {

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

  // A resumed epoch starts at its batch state.progress.batches: the rate counts this process's.
  void on_epoch_begin(nn::TrainState& state) override {
    start_ = std::chrono::steady_clock::now();
    first_batch_ = state.progress.batches;
  }
  void on_batch_end(const nn::TrainState& state, std::int64_t batch, double loss) override {
    if (!observer_.on_batch) return;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const auto trained = static_cast<double>(batch + 1 - first_batch_);
    const double rate = seconds > 0 ? trained * static_cast<double>(batch_size_) / seconds : 0;
    const double eta =
        batch + 1 < batches_ ? seconds / trained * static_cast<double>(batches_ - batch - 1) : 0.0;
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
  std::int64_t first_batch_ = 0;
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

// Pauses the run after a given epoch; the checkpoint callback, later in the chain, still saves it.
class PauseAfterEpoch final : public nn::Callback {
 public:
  explicit PauseAfterEpoch(std::int64_t epoch) : epoch_(epoch) {}
  nn::Verdict on_epoch_end(nn::TrainState& state, const nn::EpochLogs& /*logs*/) override {
    if (state.epoch < epoch_) return nn::Verdict::kContinue;
    paused_ = true;
    return nn::Verdict::kStop;
  }
  bool paused() const { return paused_; }

 private:
  std::int64_t epoch_;
  bool paused_ = false;
};

// The sanity check's config: the first n samples, nothing that fights memorisation.
TrainConfig overfit_config(TrainConfig c) {
  c.data.limit = c.overfit;
  c.batch_size = std::min(c.batch_size, c.overfit);
  c.augment = Json::array();
  c.optimizer.type = "sgd";
  c.optimizer.momentum = 0.0;
  c.optimizer.nesterov = false;
  c.optimizer.clip_norm = 0.0;
  c.schedule = nn::Schedule{};
  c.data.validation.clear();
  c.data.validation_split = 0.0;
  c.callbacks.early_stopping.enabled = false;
  c.callbacks.reduce_lr.enabled = false;
  c.callbacks.monitor.clear();
  return c;
}

// Dropout layers become identities, regularizers off: what the sanity check trains.
Json without_regularization(Json model_config) {
  const nn::LayerGraph graph = nn::LayerGraph::parse(model_config.at("layers"));
  Json layers = Json::array();
  for (std::size_t i = 0; i < graph.nodes().size(); ++i) {
    Json layer = model_config.at("layers")[i];
    if (layer.value("type", "") == "dropout") {
      // An identity in its place keeps the names and inputs other layers refer to.
      layer = graph.entry(i, Json::object());
      layer["type"] = "identity";
      layer["name"] = graph.nodes()[i].name;
    }
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
  Json config = {{"input", {sample.c, sample.h, sample.w}}, {"layers", layers}};
  std::int64_t outputs = 0;
  try {
    // Blocks become their layers here, so freezing and the rest see what the model holds.
    config["layers"] = nn::expand_blocks(layers, sample);
    outputs = nn::Model::from_config(config).output_shape().per_sample();
  } catch (const Error& e) {
    throw ConfigError("'model.layers' on " + std::to_string(sample.c) + "x" +
                      std::to_string(sample.h) + "x" + std::to_string(sample.w) +
                      " (CxHxW) images: " + e.what());
  }
  if (outputs != classes) {
    throw ConfigError("'model.layers': the last layer gives " + std::to_string(outputs) +
                      " outputs per image but the data has " + std::to_string(classes) +
                      " classes; end the list with {\"type\": \"dense\", \"units\": " +
                      std::to_string(classes) + "}");
  }
  return config;
}

// The run's data: files as they are, folders staged into temporary datasets, and with a
// validation split the two disjoint index lists of the training file.
struct TrainingData {
  std::unique_ptr<FolderDataset> train_folder, validation_folder;  // kept for the run
  std::shared_ptr<const io::DatasetReader> train, validation;
  std::vector<std::uint64_t> train_subset, held_out;  // a validation split's; else empty
  std::vector<io::SkippedInput> skipped;
};

// The run's task: the config's `task`, which must be the training data's, or the data's.
nn::Task run_task(const TrainConfig& c, const io::DatasetReader& train) {
  const nn::Task task = c.task.empty() ? train.task() : nn::task_from_name(c.task);
  if (task != train.task()) {
    throw ConfigError("'task' is " + c.task + " but " + c.data.train + " holds " +
                      std::string(nn::task_name(train.task())) +
                      " targets; preprocess it with kiln preprocess --task " + c.task +
                      " (or leave 'task' out to train the data's task)");
  }
  return task;
}

// The loss the config describes. "auto" class weights count the rows the training loader reads:
// a validation split's or fold's training rows, cut at data.limit.
std::unique_ptr<nn::Loss> make_run_loss(const TrainConfig& c, const TrainingData& d,
                                        const nn::Model& model) {
  nn::LossOptions options{c.loss.label_smoothing, {}};
  options.task = run_task(c, *d.train);
  options.huber_delta = c.loss.delta;
  if (!c.loss.class_weights.is_null() && options.task != nn::Task::kClassification) {
    throw ConfigError("'loss.class_weights': class weights are for task classification, not " +
                      std::string(nn::task_name(options.task)) + "; leave the key out");
  }
  if (!c.loss.class_weights.is_null()) {
    const std::vector<std::int32_t>& all = d.train->labels();
    std::vector<std::int32_t> rows;
    if (d.train_subset.empty()) {
      rows = all;
    } else {
      for (const std::uint64_t i : d.train_subset) rows.push_back(all[static_cast<std::size_t>(i)]);
    }
    if (c.data.limit > 0 && static_cast<std::int64_t>(rows.size()) > c.data.limit)
      rows.resize(static_cast<std::size_t>(c.data.limit));
    options.class_weights = resolve_class_weights(
        c.loss.class_weights, class_counts(rows, model.output_shape().per_sample()),
        d.train->class_names());
  }
  try {
    const nn::Task task = options.task;
    return nn::make_loss(c.loss.type.empty() ? std::string(nn::default_loss(task)) : c.loss.type,
                         std::move(options));
  } catch (const ConfigError&) {
    throw;
  } catch (const Error& e) {
    throw ConfigError(std::string("'loss': ") + e.what());
  }
}

// A folder of class folders is staged for this run (its files' own bytes, decoded every epoch).
std::unique_ptr<FolderDataset> stage_folder(const std::string& folder,
                                            const std::vector<std::string>& class_names,
                                            const TrainObserver& observer) {
  BuildOptions staging;
  staging.encoding = "original";
  return std::make_unique<FolderDataset>(folder, staging, class_names,
                                         [&](std::int64_t done, std::int64_t total) {
                                           if (observer.on_staging)
                                             observer.on_staging(folder, done, total);
                                         });
}

void check_same_size(const io::DatasetReader& validation, const io::DatasetReader& train,
                     const std::string& validation_path) {
  if (validation.height() != train.height() || validation.width() != train.width()) {
    throw Error(validation_path + ": images are " + std::to_string(validation.height()) + "x" +
                std::to_string(validation.width()) + " but the training images are " +
                std::to_string(train.height()) + "x" + std::to_string(train.width()));
  }
}

// A validation split: a stratified, seeded hold-out of the training file, fixed for the run.
void split_validation(const TrainConfig& c, TrainingData& d) {
  const std::vector<bool> holdout =
      io::stratified_holdout(d.train->labels(), d.train->class_names().size(),
                             c.data.validation_split, static_cast<std::uint64_t>(c.seed));
  for (std::uint64_t i = 0; i < holdout.size(); ++i) {
    (holdout[i] ? d.held_out : d.train_subset).push_back(i);
  }
  if (d.held_out.empty() || d.train_subset.empty()) {
    throw Error(c.data.train + ": a validation split of " +
                std::to_string(c.data.validation_split) + " leaves one part empty");
  }
}

// k-fold: fold data.fold of data.folds is held out, the other folds train.
void split_folds(const TrainConfig& c, TrainingData& d) {
  if (c.data.fold == 0) {
    throw ConfigError("'data.folds' " + std::to_string(c.data.folds) +
                      " without 'data.fold': one run trains one fold; cross_validate (kiln train "
                      "--folds) runs them all");
  }
  const std::vector<std::int32_t> fold = io::stratified_folds(
      d.train->labels(), d.train->class_names().size(), static_cast<std::int32_t>(c.data.folds),
      static_cast<std::uint64_t>(c.seed));
  for (std::uint64_t i = 0; i < fold.size(); ++i) {
    (fold[i] == c.data.fold - 1 ? d.held_out : d.train_subset).push_back(i);
  }
  if (d.held_out.empty() || d.train_subset.empty()) {
    throw Error(c.data.train + ": " + std::to_string(d.train->size()) +
                " samples are too few for " + std::to_string(c.data.folds) + " folds");
  }
}

TrainingData open_data(const TrainConfig& c, const TrainObserver& observer) {
  namespace fs = std::filesystem;
  TrainingData d;
  std::string train_file = c.data.train;
  if (fs::is_directory(c.data.train)) {
    d.train_folder = stage_folder(c.data.train, {}, observer);
    train_file = d.train_folder->path();
    d.skipped = d.train_folder->skipped();
  }
  d.train = std::make_shared<const io::DatasetReader>(train_file);
  const nn::Task task = run_task(c, *d.train);
  if (task != nn::Task::kClassification && c.data.sampler == "balanced") {
    throw ConfigError("'data.sampler' balanced draws by class, which task " +
                      std::string(nn::task_name(task)) + " has not; use random");
  }
  if (c.data.validation_split > 0.0) split_validation(c, d);
  if (c.data.folds > 0) split_folds(c, d);
  if (c.data.validation.empty()) return d;
  std::string validation_file = c.data.validation;
  if (fs::is_directory(validation_file)) {
    d.validation_folder = stage_folder(validation_file, d.train->class_names(), observer);
    validation_file = d.validation_folder->path();
    const auto& more = d.validation_folder->skipped();
    d.skipped.insert(d.skipped.end(), more.begin(), more.end());
  }
  d.validation = std::make_shared<const io::DatasetReader>(validation_file);
  check_same_size(*d.validation, *d.train, c.data.validation);
  if (d.validation->task() != task || d.validation->class_names() != d.train->class_names()) {
    throw Error(c.data.validation + ": holds other targets than " + c.data.train +
                " (its task or its class names differ); preprocess both the same way");
  }
  return d;
}

// A stage list of the config, with pca_lighting's basis fitted on the training set where it was
// left out. A stage the registry rejects is the config's mistake.
std::vector<std::unique_ptr<Stage>> stages_of(const Json& list, const char* key,
                                              const TrainConfig& c,
                                              const io::DatasetReader& train) {
  const Json fitted = with_fitted_pca(list, train.statistics().covariance, c.data.train);
  try {
    return make_stages(fitted);
  } catch (const ConfigError&) {
    throw;
  } catch (const Error& e) {
    throw ConfigError(std::string("'") + key + "': " + e.what());
  }
}

// The two loaders: augmented training batches, and the validation set in eval form.
struct Loaders {
  std::unique_ptr<Loader> train, validation;
  Json train_stages, eval_stages;  // the lists as run, for the model file
};

Loaders make_loaders(const TrainConfig& c, const TrainingData& d,
                     const Normalization& normalization, const nn::Communicator* ranks) {
  Loaders l;
  // Mixup and cutmix see whole batches: the loader runs them after the per-sample stages, in
  // training only (they have no eval form, and are not part of the model's preprocessing).
  const auto [per_sample, batch_stage] = split_batch_stage(c.augment);
  auto stages = stages_of(per_sample, "augment", c, *d.train);
  l.train_stages = stages_config(stages);
  l.eval_stages = c.eval_augment.is_null()
                      ? l.train_stages
                      : stages_config(stages_of(c.eval_augment, "eval_augment", c, *d.train));
  LoaderOptions train;
  train.batch_size = c.batch_size;
  train.seed = static_cast<std::uint64_t>(c.seed);
  train.mode = nn::Mode::kTrain;
  train.threads = static_cast<int>(c.threads);
  train.limit = c.data.limit;
  train.subset = d.train_subset;
  train.micro_batch_size = c.micro_batch_size;
  train.balanced = c.data.sampler == "balanced";
  if (!batch_stage.is_null()) {
    train.mixing = BatchMixing::from_json(batch_stage);
    if (train.mixing->may_cutmix() && d.train->task() == nn::Task::kRegression) {
      throw ConfigError("'augment': " + batch_stage.at("type").get<std::string>() +
                        " pastes a box of another image, which no regression value follows; "
                        "use mixup with task regression");
    }
  }
  if (ranks != nullptr) {
    train.rank = ranks->rank();
    train.ranks = ranks->size();
  }
  l.train = std::make_unique<Loader>(d.train, normalization, std::move(stages), train);

  LoaderOptions eval = train;
  eval.mode = nn::Mode::kEval;
  eval.mixing.reset();
  eval.balanced = false;
  eval.limit = 0;
  eval.micro_batch_size = 0;
  eval.subset = d.held_out;
  if (!d.held_out.empty()) {
    l.validation =
        std::make_unique<Loader>(d.train, normalization, make_stages(l.eval_stages), eval);
  } else if (d.validation) {
    l.validation =
        std::make_unique<Loader>(d.validation, normalization, make_stages(l.eval_stages), eval);
  }
  return l;
}

Json model_config_for(const TrainConfig& c, const nn::Shape& sample, std::int64_t classes) {
  if (!c.model.layers.is_null()) return layer_list_model(c.model.layers, sample, classes);
  Json options = Json::object();
  if (c.model.width != 1.0) options["width"] = c.model.width;
  return nn::builtin_model(c.model.name, sample, classes, options);
}

// The layer that makes the classes: the output layer, or the dense or conv2d one before the
// layers that end a network without changing the channel count (SqueezeNet's classifier is a 1x1
// conv2d, then relu, global_avg_pool2d, flatten).
std::size_t class_layer(const Json& layers) {
  static const std::set<std::string> keep_channels = {"relu",    "flatten",  "global_avg_pool2d",
                                                      "dropout", "identity", "softmax"};
  const nn::LayerGraph graph = nn::LayerGraph::parse(layers);
  std::size_t i = layers.size() - 1;
  while (keep_channels.count(layers[i].at("type").get<std::string>()) &&
         graph.nodes()[i].inputs.size() == 1 && graph.nodes()[i].inputs[0] >= 0) {
    i = static_cast<std::size_t>(graph.nodes()[i].inputs[0]);
  }
  return i;
}

// model.fine_tune: the source's graph with the layer that makes its classes sized for `classes`.
Json fine_tune_config(const TrainConfig& c, nn::Model& source, std::int64_t classes) {
  Json config = source.config();
  const std::size_t index = class_layer(config.at("layers"));
  Json& head = config.at("layers")[index];
  const bool dense = head.at("type") == "dense";
  const bool conv = head.at("type") == "conv2d" && head.value("groups", 1) == 1 &&
                    !head.contains("depth_multiplier");
  if (!dense && !conv) {
    throw ConfigError("'model.fine_tune' " + c.model.fine_tune + ": the layer that makes its " +
                      "outputs, '" + source.layer_name(index) + "', is a " +
                      head.at("type").get<std::string>() +
                      "; fine-tuning gives a dense or conv2d output layer new classes");
  }
  head[dense ? "units" : "filters"] = classes;
  // This run decides what is frozen (model.freeze): a second stage can unfreeze deeper blocks.
  for (Json& layer : config.at("layers")) layer.erase("trainable");
  return config;
}

// model.freeze: "trainable": false on every layer listed up to the named one.
Json freeze_up_to(Json model_config, const std::string& last_frozen) {
  const nn::LayerGraph graph = nn::LayerGraph::parse(model_config.at("layers"));
  std::string names;
  for (std::size_t i = 0; i < graph.nodes().size(); ++i) {
    if (graph.nodes()[i].name != last_frozen) {
      names += (names.empty() ? "" : ", ") + graph.nodes()[i].name;
      continue;
    }
    for (std::size_t j = 0; j <= i; ++j) model_config["layers"][j]["trainable"] = false;
    return model_config;
  }
  throw ConfigError("'model.freeze' " + last_frozen + ": the model has no layer of that name; " +
                    "its layers: " + names);
}

// What evaluate and predict read back (docs/design.md contract 2): the stages' eval() forms are what they
// run; the train list is kept for the record.
Json preprocessing_record(const Normalization& normalization, const Loaders& l,
                          const io::DatasetReader& train) {
  return {{"task", nn::task_name(train.task())},
          {"normalization", normalization.to_json()},
          {"eval_stages", l.eval_stages},
          {"train_stages", l.train_stages},
          {"input", {train.channels(), train.height(), train.width()}},
          // Variable-size data (input H = W = 0): how kiln preprocess sized it, for predict.
          {"storage", {{"short_side", train.short_side()}, {"max_side", train.max_side()}}}};
}

// The model of the config on this data. A built-in model or layer list whose shapes do not fit
// the images is the config's mistake.
nn::Model build_model(const Json& model_config, const TrainConfig& c) {
  try {
    return nn::Model::from_config(model_config);
  } catch (const Error& e) {
    throw ConfigError("'model.name' " + c.model.name + " on this data: " + e.what() +
                      "; pick a model for this image size (README: Models)");
  }
}

// Everything from a checkpoint: weights, optimizer state, epoch, step, seed; checked to be the
// same model on the same input, and not already done.
io::ModelBundle load_resume(const std::string& path, const nn::Model& fresh, std::int64_t epochs) {
  io::ModelBundle resumed = io::load_model(path);
  if (resumed.model.config() != fresh.config()) {
    throw ConfigError("--resume " + path +
                      ": the checkpoint holds another model or input size; resume with the same "
                      "--model, --width (or model.layers) and data");
  }
  if (resumed.train_state.epoch >= epochs) {
    throw ConfigError("--resume " + path + ": already trained for " +
                      std::to_string(resumed.train_state.epoch) + " epochs; raise --epochs");
  }
  return resumed;
}

// A mid-epoch checkpoint counts batches: they must be the same batches now, or the rest of the
// epoch would repeat or miss samples.
void check_same_batches(const std::string& path, const nn::EpochProgress& progress,
                        std::int64_t batch_size, std::int64_t samples) {
  if (progress.batches == 0) return;
  if (progress.samples != std::min(progress.batches * batch_size, samples)) {
    throw ConfigError("--resume " + path + ": the checkpoint stopped mid-epoch after " +
                      std::to_string(progress.batches) + " batches of " +
                      std::to_string(progress.samples / progress.batches) +
                      " samples; resume with that batch_size and the same data");
  }
}

// Where a resumed run picks up: after a whole epoch, or mid-epoch at its next batch.
std::string resume_line(const std::string& path, const nn::TrainState& state,
                        std::int64_t batches) {
  const std::string epoch = std::to_string(state.epoch + 1);
  if (state.progress.batches == 0) {
    return "Resuming " + path + " at epoch " + epoch + "\n";
  }
  return "Resuming " + path + " mid-epoch: epoch " + epoch + " from batch " +
         std::to_string(state.progress.batches + 1) + " of " + std::to_string(batches) + "\n";
}

// What a callback may need of the run.
struct RunParts {
  const TrainConfig& config;
  nn::Model& model;
  const nn::Optimizer& optimizer;
  const nn::TrainState& state;
  const Json& preprocessing;
  const std::vector<std::string>& class_names;
  const io::PreprocessingArrays& arrays;
  bool resumed = false;
  bool validation = false;
  PauseAfterEpoch* pause = nullptr;  // optional
  const TrainObserver* observer = nullptr;
  bool writes_files = true;  // false on every MPI rank but 0
};

// The callbacks of a run, in the order they must run: the rate is set first; the logs, plots and
// report see each epoch before early stopping may end the run; the checkpoint comes last, since
// it saves the state every other callback left for the epoch.
class CallbackChain {
 public:
  CallbackChain(const RunParts& run, EpochReporter& reporter) {
    const TrainConfig& c = run.config;
    const std::string monitor =
        !c.callbacks.monitor.empty() ? c.callbacks.monitor : (run.validation ? "val_loss" : "loss");
    const std::int64_t resumed_epochs = run.resumed ? run.state.epoch : 0;
    schedule_ = std::make_unique<nn::LrScheduleCallback>(
        c.schedule, static_cast<float>(c.optimizer.lr), c.epochs);
    chain_.push_back(schedule_.get());
    if (c.callbacks.reduce_lr.enabled) {
      nn::ReduceOnPlateauOptions o = c.callbacks.reduce_lr.options;
      o.monitor = c.callbacks.reduce_lr.monitor.empty() ? monitor : c.callbacks.reduce_lr.monitor;
      plateau_ = std::make_unique<nn::ReduceOnPlateau>(o);
      plateau_->restore(run.state);
      chain_.push_back(plateau_.get());
    }
    if (run.writes_files) {
      add_logs(c, resumed_epochs);
      add_diagnostics(run, resumed_epochs);
    }
    if (c.overfit > 0) chain_.push_back(&perfect_);
    chain_.push_back(&reporter);
    if (c.callbacks.early_stopping.enabled) {
      nn::EarlyStoppingOptions o = c.callbacks.early_stopping.options;
      const std::string& own = c.callbacks.early_stopping.monitor;
      o.monitor = own.empty() ? monitor : own;
      early_ = std::make_unique<nn::EarlyStopping>(o, &run.model);
      early_->restore(run.state);
      chain_.push_back(early_.get());
    }
    if (run.pause) chain_.push_back(run.pause);
    if (run.writes_files) add_model_files(run, monitor);
  }
  std::span<nn::Callback* const> callbacks() const { return chain_; }

 private:
  void add_logs(const TrainConfig& c, std::int64_t resumed_epochs) {
    if (const std::string csv = c.csv_log_path(); !csv.empty()) {
      csv_ = std::make_unique<io::CsvLog>(csv, resumed_epochs);
      chain_.push_back(csv_.get());
    }
    if (c.log_every_batches > 0 && !c.run_dir.empty()) {
      batch_log_ = std::make_unique<io::BatchCsvLog>(
          (std::filesystem::path(c.run_dir) / "batches.csv").string(), c.log_every_batches,
          resumed_epochs);
      chain_.push_back(batch_log_.get());
    }
    if (!c.run_dir.empty() && csv_) {
      plots_ = std::make_unique<io::RunPlots>(c.run_dir, c.csv_log_path());
      chain_.push_back(plots_.get());
    }
  }
  void add_diagnostics(const RunParts& run, std::int64_t resumed_epochs) {
    const TrainConfig& c = run.config;
    if (c.diagnostics <= 0) return;
    diagnostics_log_ = std::make_unique<io::DiagnosticsLog>(c.run_dir, resumed_epochs);
    io::DiagnosticsLog* log = diagnostics_log_.get();
    const TrainObserver* observer = run.observer;
    diagnostics_ = std::make_unique<nn::Diagnostics>(
        run.model, c.diagnostics, [log](const nn::DiagnosticsRecord& r) { log->add(r); },
        [observer](const std::string& warning) {
          if (observer != nullptr && observer->on_warning) observer->on_warning(warning);
        });
    chain_.push_back(diagnostics_.get());
    chain_.push_back(diagnostics_log_.get());
  }
  void add_model_files(const RunParts& run, const std::string& monitor) {
    if (const std::string best = run.config.best_path(); !best.empty()) {
      best_ = std::make_unique<io::Checkpoint>(
          best, run.model, run.optimizer, run.preprocessing, run.class_names,
          io::CheckpointOptions{.best_only = io::BestOnly{monitor}}, run.arrays);
      chain_.push_back(best_.get());
    }
    if (const std::string path = run.config.checkpoint_path(); !path.empty()) {
      const TrainConfig& c = run.config;
      checkpoint_ = std::make_unique<io::Checkpoint>(
          path, run.model, run.optimizer, run.preprocessing, run.class_names,
          io::CheckpointOptions{.every_steps = c.checkpoint_every}, run.arrays);
      chain_.push_back(checkpoint_.get());
    }
  }

  std::unique_ptr<nn::LrScheduleCallback> schedule_;
  std::unique_ptr<nn::ReduceOnPlateau> plateau_;
  std::unique_ptr<io::CsvLog> csv_;
  std::unique_ptr<io::BatchCsvLog> batch_log_;
  std::unique_ptr<io::RunPlots> plots_;
  std::unique_ptr<nn::Diagnostics> diagnostics_;
  std::unique_ptr<io::DiagnosticsLog> diagnostics_log_;
  StopAtPerfectAccuracy perfect_;
  std::unique_ptr<nn::EarlyStopping> early_;
  std::unique_ptr<io::Checkpoint> best_, checkpoint_;
  std::vector<nn::Callback*> chain_;
};

// What a run needs before its first step: the data and its loaders, the normalization and the
// preprocessing record, and the model — resumed, or initialized and warm-started or fine-tuned
// as configured — with the summary to show.
struct PreparedRun {
  TrainingData data;
  Normalization normalization;
  Loaders loaders;
  Json preprocessing;
  nn::Model model;
  std::optional<io::ModelBundle> resumed;
  std::string summary;
  std::int64_t batches = 0;  // per epoch
};

PreparedRun prepare_run(const TrainConfig& c, const TrainObserver& observer,
                        const std::string& resume_from, const nn::Communicator* ranks = nullptr) {
  if (!c.model.init_from.empty() && !std::filesystem::is_regular_file(c.model.init_from)) {
    throw ConfigError("'model.init_from' " + c.model.init_from +
                      ": no such model file; give one kiln train wrote");
  }
  if (!c.model.fine_tune.empty()) {
    if (!std::filesystem::is_regular_file(c.model.fine_tune)) {
      throw ConfigError("'model.fine_tune' " + c.model.fine_tune +
                        ": no such model file; give one kiln train or kiln import wrote");
    }
    if (!c.model.init_from.empty() || !c.model.layers.is_null()) {
      throw ConfigError("'model.fine_tune' takes its layers and weights from " + c.model.fine_tune +
                        "; leave out model.init_from and model.layers");
    }
  }
  TrainingData data = open_data(c, observer);
  // Fine-tuning keeps the normalization the source network learned its filters on.
  std::optional<io::ModelBundle> base;
  if (!c.model.fine_tune.empty()) base = io::load_model(c.model.fine_tune);
  Normalization normalization =
      base ? Normalization::from_json(base->preprocessing.at("normalization"), base->arrays)
           : Normalization::from_statistics(data.train->statistics(), data.train->channel_order(),
                                            c.normalization);
  Loaders loaders = make_loaders(c, data, normalization, ranks);

  const auto classes = static_cast<std::int64_t>(data.train->class_names().size());
  Json model_config = base ? fine_tune_config(c, base->model, classes)
                           : model_config_for(c, loaders.train->sample_shape(), classes);
  if (c.overfit > 0) model_config = without_regularization(std::move(model_config));
  if (!c.model.freeze.empty()) model_config = freeze_up_to(std::move(model_config), c.model.freeze);
  Json preprocessing = preprocessing_record(normalization, loaders, *data.train);

  nn::Model model = build_model(model_config, c);
  std::optional<io::ModelBundle> resumed;
  if (!resume_from.empty()) {
    resumed = load_resume(resume_from, model, c.epochs);
    model = std::move(resumed->model);
  } else {
    model.initialize(static_cast<std::uint64_t>(c.seed));
  }
  nn::exempt_from_weight_decay(model, c.optimizer.no_decay.get<std::vector<std::string>>());
  std::string summary = model.summary();
  if (!resumed && !c.model.init_from.empty()) {
    io::ModelBundle source = io::load_model(c.model.init_from);
    summary += "Warm start from " + c.model.init_from + ": " +
               nn::copy_matching_layers(source.model, model).str() + "\n";
  }
  if (!resumed && base) {
    summary += "Fine-tuning " + c.model.fine_tune + ": " +
               nn::copy_matching_layers(base->model, model).str() + "\n";
  }
  const std::int64_t batches = (loaders.train->num_samples() + c.batch_size - 1) / c.batch_size;
  if (resumed) {
    check_same_batches(resume_from, resumed->train_state.progress, c.batch_size,
                       loaders.train->num_samples());
    summary += resume_line(resume_from, resumed->train_state, batches);
  }
  return {std::move(data),  std::move(normalization), std::move(loaders), std::move(preprocessing),
          std::move(model), std::move(resumed),       std::move(summary), batches};
}

// What data-parallel training cannot do yet, refused before any data is read.
void check_data_parallel(const TrainConfig& c, const nn::Communicator& ranks) {
  if (ranks.size() == 1) return;
  const std::string where = "with " + std::to_string(ranks.size()) + " MPI ranks: ";
  for (const std::string& data : {c.data.train, c.data.validation}) {
    if (!data.empty() && std::filesystem::is_directory(data)) {
      throw ConfigError(where + data + " is a folder; preprocess it into a kiln HDF5 file first (" +
                        "mpirun -np N kiln preprocess " + data + " -o data.h5) and train on that");
    }
  }
  if (c.diagnostics > 0) {
    throw ConfigError(where + "'diagnostics' reads one process's gradients; run it without mpirun");
  }
}

}  // namespace

TrainResult train_model(const TrainConfig& original, const TrainObserver& observer,
                        const std::string& resume_from, std::int64_t stop_after_epoch,
                        nn::Communicator* ranks) {
  const TrainConfig c = original.overfit > 0 ? overfit_config(original) : original;
  nn::Solo solo;
  nn::Communicator& world = ranks != nullptr ? *ranks : solo;
  check_data_parallel(c, world);
  const bool writes_files = world.rank() == 0;
  if (stop_after_epoch > 0 && c.checkpoint_path().empty()) {
    throw ConfigError(
        "pausing after an epoch needs a checkpoint to resume from: give --run-dir "
        "or --checkpoint");
  }
  // Every file the run will write, checked before any data is read.
  for (const std::string& path :
       {c.output_path(), c.checkpoint_path(), c.csv_log_path(), c.best_path()}) {
    if (!path.empty() && writes_files) io::check_output_file(path);
  }
  PreparedRun run_setup = prepare_run(c, observer, resume_from, &world);
  TrainingData& data = run_setup.data;
  nn::Model& model = run_setup.model;
  const Normalization& normalization = run_setup.normalization;
  Loaders& loaders = run_setup.loaders;
  const Json& preprocessing = run_setup.preprocessing;
  std::optional<io::ModelBundle>& resumed = run_setup.resumed;
  const std::int64_t batches = run_setup.batches;
  TrainResult result;
  result.skipped = data.skipped;
  if (observer.on_start) observer.on_start(run_setup.summary);

  const std::unique_ptr<nn::Optimizer> optimizer =
      nn::make_optimizer(resumed ? resumed->optimizer_config : c.optimizer_config());
  nn::TrainState state;
  state.seed = static_cast<std::uint64_t>(c.seed);
  state.learning_rate = static_cast<float>(c.optimizer.lr);
  if (resumed) {
    optimizer->load(resumed->optimizer_state);
    state = resumed->train_state;
  }

  EpochReporter reporter(observer, c.epochs, batches, c.batch_size, result);
  const io::PreprocessingArrays arrays = normalization.arrays();
  RunParts run{c,
               model,
               *optimizer,
               state,
               preprocessing,
               data.train->class_names(),
               arrays,
               resumed.has_value(),
               loaders.validation != nullptr,
               nullptr,
               &observer,
               writes_files};
  std::optional<PauseAfterEpoch> pause;
  if (resumed && stop_after_epoch > 0 && stop_after_epoch <= state.epoch) {
    throw ConfigError("pausing after epoch " + std::to_string(stop_after_epoch) + ": " +
                      resume_from + " is at epoch " + std::to_string(state.epoch) +
                      " already; pause at a later epoch");
  }
  if (stop_after_epoch > 0 && stop_after_epoch < c.epochs) {
    pause.emplace(stop_after_epoch);
    run.pause = &*pause;
  }
  const CallbackChain chain(run, reporter);
  const std::unique_ptr<nn::Loss> loss = make_run_loss(c, data, model);
  const nn::StepLayout layout{c.batch_size, c.micro_batch_size, false, &world};
  result.step_times = nn::Trainer::fit(model, *optimizer, *loaders.train, state, c.epochs, layout,
                                       chain.callbacks(), *loss, loaders.validation.get());
  if (pause && pause->paused()) {
    result.paused = true;
    return result;
  }
  if (!writes_files) return result;
  io::save_model(c.output_path(), model, *optimizer, state, preprocessing,
                 data.train->class_names(), arrays);
  return result;
}

nn::LrFindResult find_learning_rate(const TrainConfig& config, nn::LrFindOptions options,
                                    const std::string& output_folder,
                                    const TrainObserver& observer) {
  // The range test steps on whole batches: its rate ramp is per step, so micro-batches would
  // change what a step is.
  TrainConfig c = config;
  c.micro_batch_size = 0;
  for (const char* file : {"lr_find.csv", "lr_find.png"}) {
    io::check_output_file(std::filesystem::path(output_folder) / file);
  }
  PreparedRun run = prepare_run(c, observer, "");
  if (observer.on_start) observer.on_start(run.summary);
  const std::unique_ptr<nn::Optimizer> optimizer = nn::make_optimizer(c.optimizer_config());
  const std::unique_ptr<nn::Loss> loss = make_run_loss(c, run.data, run.model);
  options.seed = static_cast<std::uint64_t>(c.seed);
  const nn::LrFindResult result =
      nn::find_learning_rate(run.model, *optimizer, *run.loaders.train, *loss, options);
  io::write_lr_find_files(output_folder, result);
  return result;
}

}  // namespace kiln::pipeline
