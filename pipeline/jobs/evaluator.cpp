#include "pipeline/jobs/evaluator.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>

#include "io/dataset_reader.hpp"
#include "io/image_index.hpp"
#include "io/model_file.hpp"
#include "nn/error.hpp"
#include "nn/loss.hpp"
#include "pipeline/jobs/dataset_builder.hpp"
#include "pipeline/jobs/folder_dataset.hpp"
#include "pipeline/loader.hpp"
#include "pipeline/normalize.hpp"
#include "pipeline/storage.hpp"
#include "pipeline/transforms/registry.hpp"

namespace kiln::pipeline {

namespace fs = std::filesystem;

namespace {

// The model and what it needs of the data, checked once for both passes.
struct Setup {
  io::ModelBundle bundle;
  Normalization normalization;
  std::shared_ptr<const io::DatasetReader> data;
  std::vector<std::string> sources;  // per dataset row, when known
  cv::Size crop;                     // the model's input (W, H)
};

void check_fits(const Setup& s, const std::string& model_path, const std::string& data_path) {
  s.normalization.check_compatible(s.data->channels(), s.data->channel_order(), data_path);
  const auto outputs = s.bundle.model.output_shape().per_sample();
  const auto& names = s.data->class_names();
  if (static_cast<std::int64_t>(names.size()) > outputs) {
    throw Error(data_path + ": has " + std::to_string(names.size()) +
                " classes but the model predicts " + std::to_string(outputs) +
                "; evaluate it with a model trained on the same classes");
  }
  const auto& model_names = s.bundle.class_names;
  for (std::size_t c = 0; c < names.size() && c < model_names.size(); ++c) {
    if (names[c] != model_names[c]) {
      throw Error(data_path + ": class " + std::to_string(c) + " is '" + names[c] + "' but in " +
                  model_path + " it is '" + model_names[c] +
                  "'; preprocess the data with the same class folders as the training data");
    }
  }
}

EvalPass run_pass(Setup& s, const EvalRequest& request, const std::optional<ViewOptions>& views) {
  const Json& pre = s.bundle.preprocessing;
  std::vector<std::unique_ptr<Stage>> stages = make_stages(pre.value("eval_stages", Json::array()));
  if (views) {
    std::erase_if(stages, [](const std::unique_ptr<Stage>& st) { return st->changes_size(); });
  }
  LoaderOptions options;
  // The batch size counts forward-pass rows, so views do not multiply the memory of a batch.
  options.batch_size =
      std::max<std::int64_t>(1, request.batch_size / (views ? views->views_per_image() : 1));
  options.mode = nn::Mode::kEval;
  options.shuffle = false;
  options.threads = request.threads;
  options.views = views;
  Loader loader(s.data, s.normalization, std::move(stages), options);
  const nn::Shape want = s.bundle.model.input_shape();
  const nn::Shape got = loader.sample_shape();
  if (got.c != want.c || got.h != want.h || got.w != want.w) {
    throw Error(request.data_path + ": the model's stages make " + got.str() +
                " inputs but the model takes " + want.str());
  }

  const auto classes = s.bundle.model.output_shape().per_sample();
  EvalPass pass{
      views ? views->describe() : "single crop (the model's eval stages)",
      views ? views->views_per_image() : 1,
      nn::ClassificationMetrics(classes, static_cast<int>(std::min<std::int64_t>(5, classes))),
      {},
      0.0};
  pass.predictions.reserve(static_cast<std::size_t>(s.data->size()));
  const auto start = std::chrono::steady_clock::now();
  loader.start_epoch(0);
  nn::Batch batch;
  nn::Tensor probabilities;
  std::vector<float> mean(static_cast<std::size_t>(classes));
  const std::int64_t k = pass.views_per_image;
  while (loader.next(batch)) {
    const nn::StepContext ctx{nn::Mode::kEval, 0, 0, batch.indices};
    const nn::Tensor& logits = s.bundle.model.forward(batch.inputs, ctx);
    nn::SoftmaxCrossEntropy::compute(logits, batch.labels, nullptr, &probabilities);
    // Rows come in groups of k views of one image (graph.hpp keeps them together).
    for (std::int64_t first = 0; first < batch.size(); first += k) {
      std::fill(mean.begin(), mean.end(), 0.f);
      for (std::int64_t v = 0; v < k; ++v) {
        const float* row = probabilities.data() + (first + v) * classes;
        for (std::int64_t c = 0; c < classes; ++c) mean[static_cast<std::size_t>(c)] += row[c];
      }
      for (float& p : mean) p /= static_cast<float>(k);
      const std::int32_t label = batch.labels[static_cast<std::size_t>(first)];
      const std::int32_t predicted = pass.metrics.add(mean, label);
      const std::uint64_t index = batch.indices[static_cast<std::size_t>(first)];
      pass.predictions.push_back({index,
                                  index < s.sources.size() ? s.sources[index] : std::string(),
                                  label, predicted, mean[static_cast<std::size_t>(predicted)]});
    }
  }
  pass.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return pass;
}

}  // namespace

ViewOptions default_views(const Json& preprocessing, cv::Size stored, cv::Size crop, int crops,
                          const std::vector<int>& scales, int padding) {
  ViewOptions o;
  o.crops = crops;
  o.crop = crop;
  o.scales = scales;
  int trained_padding = -1;
  for (const Json& stage : preprocessing.value("eval_stages", Json::array())) {
    const std::string name = stage.value("type", "");
    const Json& options = stage;  // flat: {"type": ..., option: value, ...}
    if (scales.empty() && name == "scale_crop") {
      o.scales = {options.at("eval_scale").get<int>()};
    } else if (scales.empty() && name == "random_resized_crop") {
      o.scales = {static_cast<int>(std::lround(options.at("size").get<double>() /
                                               options.at("crop_fraction").get<double>()))};
    } else if (name == "pad_crop") {
      trained_padding = options.at("padding").get<int>();
      o.fill = options.value("fill", 0);
    }
  }
  if (padding >= 0) {
    o.padding = padding;
  } else {
    // Room for distinct corners at the smallest scale? Without it, pad.
    const int short_side = o.scales.empty() ? std::min(stored.width, stored.height)
                                            : *std::min_element(o.scales.begin(), o.scales.end());
    const bool no_room = short_side <= std::min(crop.width, crop.height);
    // Half the trained shift: the corner views stay typical of what training showed. Measured
    // on Fashion-MNIST (mnist_cnn, pad_crop 2): padding 1 helps, padding 2 (the extreme shifts)
    // costs more than half a point. Without pad_crop the shifted views were never seen: none.
    o.padding = no_room && crops > 1 && trained_padding > 0 ? std::max(1, trained_padding / 2) : 0;
  }
  check_view_options(o);
  return o;
}

EvalReport evaluate_model(const EvalRequest& request) {
  if (request.crops != 1 && request.crops != 5 && request.crops != 10) {
    throw Error("--crops must be 1, 5 or 10, got " + std::to_string(request.crops));
  }
  Setup s{io::load_model(request.model_path), {}, {}, {}, {}};
  const Json& pre = s.bundle.preprocessing;
  const Storage storage = storage_of_model(pre, request.model_path);
  s.normalization = Normalization::from_json(pre.at("normalization"), s.bundle.arrays);
  const nn::Shape input = s.bundle.model.input_shape();
  s.crop = cv::Size(static_cast<int>(input.w), static_cast<int>(input.h));

  std::unique_ptr<FolderDataset> folder;
  std::string data_path = request.data_path;
  if (fs::is_directory(request.data_path)) {
    // Stored the way the training data was: the model's fixed size, or its variable-size sizing.
    folder = std::make_unique<FolderDataset>(request.data_path, BuildOptions::storing(storage),
                                             s.bundle.class_names);
    data_path = folder->path();
    s.sources = folder->sources();
  }
  s.data = std::make_shared<const io::DatasetReader>(data_path);
  check_fits(s, request.model_path, request.data_path);

  EvalReport report{s.bundle.class_names, {}};
  if (report.class_names.empty()) report.class_names = s.data->class_names();
  if (request.crops == 1) {
    report.passes.push_back(run_pass(s, request, std::nullopt));
  } else {
    // Variable-size data: the first image stands for the others in these checks.
    const cv::Size stored_size = s.data->image_size(0);
    const ViewOptions views =
        default_views(pre, stored_size, s.crop, request.crops, request.scales, request.padding);
    // A crop that does not fit stops here, naming the sizes, before any image is read.
    plan_views(stored_size, views);
    if (request.compare) report.passes.push_back(run_pass(s, request, std::nullopt));
    report.passes.push_back(run_pass(s, request, views));
  }

  if (!request.report_dir.empty()) {
    const EvalPass& pass = report.passes.back();
    const fs::path dir(request.report_dir);
    io::write_confusion_csv((dir / "confusion.csv").string(), pass.metrics, report.class_names);
    io::write_confusion_png((dir / "confusion.png").string(), pass.metrics, report.class_names);
    io::write_per_class_csv((dir / "per_class.csv").string(), pass.metrics, report.class_names);
    io::write_predictions_csv((dir / "predictions.csv").string(), pass.predictions,
                              report.class_names);
  }
  return report;
}

}  // namespace kiln::pipeline
