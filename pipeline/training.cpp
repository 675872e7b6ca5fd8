#include "pipeline/training.hpp"

#include <memory>

#include "io/dataset_reader.hpp"
#include "io/model_file.hpp"
#include "nn/error.hpp"
#include "nn/model.hpp"
#include "nn/zoo.hpp"
#include "pipeline/loader.hpp"
#include "pipeline/normalize.hpp"
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
}

// Reports every epoch and, when a validation set is given, evaluates it after each epoch.
class EpochReporter final : public nn::Callback {
 public:
  EpochReporter(nn::Sequential& model, nn::BatchSource* validation, const TrainObserver& observer,
                std::int64_t epochs, TrainResult& result)
      : model_(model),
        validation_(validation),
        observer_(observer),
        epochs_(epochs),
        result_(result) {}

  nn::Verdict on_epoch_end(nn::TrainState& /*state*/, const nn::EpochLogs& logs) override {
    EpochReport report{logs, std::nullopt, epochs_};
    if (validation_) report.validation = nn::Trainer::evaluate(model_, *validation_);
    result_.last_epoch = logs;
    result_.validation = report.validation;
    if (observer_.on_epoch) observer_.on_epoch(report);
    return nn::Verdict::kContinue;
  }

 private:
  nn::Sequential& model_;
  nn::BatchSource* validation_;
  const TrainObserver& observer_;
  std::int64_t epochs_;
  TrainResult& result_;
};

}  // namespace

TrainResult train_model(const TrainRequest& request, const TrainObserver& observer) {
  check_request(request);
  auto train_data = std::make_shared<const io::DatasetReader>(request.train_path);
  const Normalization normalization =
      Normalization::from_statistics(train_data->statistics(), train_data->channel_order());

  LoaderOptions train_options;
  train_options.batch_size = request.batch_size;
  train_options.seed = request.seed;
  train_options.mode = nn::Mode::kTrain;
  train_options.threads = request.threads;
  train_options.limit = request.limit;
  auto stages = make_stages(request.train_stages);
  const Json train_stages_config = stages_config(stages);
  Loader train_loader(train_data, normalization, std::move(stages), train_options);

  std::unique_ptr<Loader> validation_loader;
  if (!request.validation_path.empty()) {
    auto validation_data = std::make_shared<const io::DatasetReader>(request.validation_path);
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
                                                 make_stages(train_stages_config), eval_options);
  }

  const auto classes = static_cast<std::int64_t>(train_data->class_names().size());
  nn::Sequential model = nn::Sequential::from_config(nn::builtin_model(
      request.model, train_loader.sample_shape(), classes, request.model_options));
  model.initialize(request.seed);
  if (observer.on_start) observer.on_start(model.summary());

  const std::unique_ptr<nn::Optimizer> optimizer = nn::make_optimizer(request.optimizer);
  nn::TrainState state;
  state.seed = request.seed;
  state.learning_rate = request.learning_rate;

  TrainResult result;
  EpochReporter reporter(model, validation_loader.get(), observer, request.epochs, result);
  nn::Callback* callbacks[] = {&reporter};
  nn::Trainer::fit(model, *optimizer, train_loader, state, request.epochs, callbacks);

  // The stages' eval() forms are what evaluate/predict run; the train list is kept for the record.
  const Json preprocessing = {
      {"normalization", normalization.to_json()},
      {"eval_stages", train_stages_config},
      {"train_stages", train_stages_config},
      {"input", {train_data->channels(), train_data->height(), train_data->width()}}};
  io::save_model(request.output_path, model, *optimizer, state, preprocessing,
                 train_data->class_names());
  return result;
}

}  // namespace kiln::pipeline
