#include "pipeline/inference/predictor.hpp"

#include <algorithm>
#include <numeric>
#include <optional>
#include <span>

#include "io/decode.hpp"
#include "io/model_file.hpp"
#include "nn/error.hpp"
#include "nn/loss.hpp"
#include "pipeline/inference/evaluator.hpp"
#include "pipeline/normalize.hpp"
#include "pipeline/pack.hpp"
#include "pipeline/storage.hpp"
#include "pipeline/transforms/registry.hpp"

namespace kiln::pipeline {

namespace {

// The k most probable classes, most likely first (ties: lower class id first).
std::vector<std::pair<std::string, float>> top_classes(std::span<const float> probabilities,
                                                       const std::vector<std::string>& names,
                                                       int k) {
  std::vector<std::size_t> order(probabilities.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return probabilities[a] > probabilities[b];
  });
  std::vector<std::pair<std::string, float>> top;
  for (std::size_t i = 0; i < order.size() && static_cast<int>(i) < k; ++i) {
    const std::size_t c = order[i];
    top.emplace_back(c < names.size() ? names[c] : std::to_string(c), probabilities[c]);
  }
  return top;
}

}  // namespace

struct Predictor::State {
  std::string model_path;
  io::ModelBundle bundle;
  Storage storage;
  Normalization normalization;
  nn::Shape input;
  std::vector<std::unique_ptr<Stage>> stages;
  std::optional<ViewOptions> views;
  std::vector<cv::Mat> cut;  // the views of the current image
  nn::Tensor probabilities;
  nn::Task task = nn::Task::kClassification;
  bool keep_layer_outputs = false;
};

Predictor::Predictor(const std::string& model_path, const ViewRequest& views)
    : s_(std::make_unique<State>()) {
  State& s = *s_;
  s.model_path = model_path;
  s.bundle = io::load_model(model_path);
  const Json& pre = s.bundle.preprocessing;
  // Size each image as kiln preprocess sized the training data.
  s.storage = storage_of_model(pre, model_path);
  s.normalization = Normalization::from_json(pre.at("normalization"), s.bundle.arrays);
  s.task = nn::task_from_name(pre.value("task", "classification"));
  s.input = s.bundle.model.input_shape();
  const cv::Size crop(static_cast<int>(s.input.w), static_cast<int>(s.input.h));
  const cv::Size stored(static_cast<int>(s.storage.width), static_cast<int>(s.storage.height));
  s.stages = make_stages(pre.value("eval_stages", Json::array()));
  check_view_request(views);
  if (views.crops != 1) {
    s.views = default_views(pre, model_path, stored, crop, views);
    if (s.storage.fixed()) plan_views(stored, *s.views);  // a crop that does not fit stops here
    std::erase_if(s.stages, [](const std::unique_ptr<Stage>& st) { return st->changes_size(); });
  }
}

Predictor::~Predictor() = default;
Predictor::Predictor(Predictor&&) noexcept = default;
Predictor& Predictor::operator=(Predictor&&) noexcept = default;

io::DecodeOptions Predictor::decode_options() const {
  io::DecodeOptions decode;
  decode.channels = s_->storage.channels;
  decode.min_short_side =
      static_cast<int>(s_->storage.fixed() ? std::max(s_->storage.height, s_->storage.width)
                                           : s_->storage.short_side);
  return decode;
}

int Predictor::channels() const { return s_->storage.channels; }

const std::vector<std::string>& Predictor::class_names() const { return s_->bundle.class_names; }

nn::Model& Predictor::model() { return s_->bundle.model; }

nn::Task Predictor::task() const { return s_->task; }

std::vector<float> Predictor::probabilities(const cv::Mat& decoded) {
  State& s = *s_;
  if (decoded.channels() != channels() || decoded.depth() != CV_8U) {
    throw Error(s.model_path + ": takes 8-bit images with " + std::to_string(channels()) +
                " channel(s), got " + std::to_string(decoded.channels()));
  }
  cv::Mat image = fit_to_storage(decoded, s.storage);
  for (const auto& stage : s.stages) stage->run(image, nn::Mode::kEval, {});
  if (s.views) {
    make_views(image, *s.views, s.cut);
  } else {
    s.cut.assign(1, image);
  }
  nn::Tensor x(s.input.with_n(static_cast<std::int64_t>(s.cut.size())));
  const auto per_view = static_cast<std::size_t>(s.input.per_sample());
  for (std::size_t v = 0; v < s.cut.size(); ++v) {
    if (s.cut[v].rows != s.input.h || s.cut[v].cols != s.input.w) {
      throw Error(s.model_path + ": its eval stages give " + std::to_string(s.cut[v].cols) + "x" +
                  std::to_string(s.cut[v].rows) + " images but the model takes " + s.input.str());
    }
    if (!s.cut[v].isContinuous()) s.cut[v] = s.cut[v].clone();
    pack_image(s.cut[v], s.normalization, x.span().subspan(v * per_view, per_view));
  }
  nn::StepContext ctx;
  ctx.output_only = !s.keep_layer_outputs;  // batch norms applied by the convolutions before them
  const nn::Tensor& logits = s.bundle.model.forward(x, ctx);
  if (s.task == nn::Task::kClassification) {
    const std::vector<std::int32_t> any_labels(s.cut.size(), 0);
    nn::SoftmaxCrossEntropy::compute(logits, any_labels, nullptr, &s.probabilities);
  } else {
    s.probabilities = logits;
    nn::output_to_scores(s.task, s.probabilities.data(), logits.shape().n,
                         logits.shape().per_sample());
  }
  // The mean over the views (one view: the probabilities themselves).
  const auto classes = static_cast<std::size_t>(s.probabilities.size()) / s.cut.size();
  std::vector<float> mean(classes, 0.f);
  for (std::size_t v = 0; v < s.cut.size(); ++v) {
    for (std::size_t c = 0; c < classes; ++c) {
      mean[c] += s.probabilities[static_cast<std::int64_t>(v * classes + c)];
    }
  }
  for (float& m : mean) m /= static_cast<float>(s.cut.size());
  return mean;
}

void Predictor::keep_layer_outputs() { s_->keep_layer_outputs = true; }

std::vector<Prediction> predict_images(const PredictRequest& request) {
  if (request.model_paths.empty()) throw Error("predict needs at least one model file");
  std::vector<Predictor> models;
  for (const std::string& path : request.model_paths) {
    models.emplace_back(path, request.views);
    if (models.back().class_names() != models.front().class_names() ||
        models.back().task() != models.front().task()) {
      throw Error(path + ": predicts other classes than " + request.model_paths.front() +
                  "; an ensemble's models must be trained on the same classes");
    }
  }
  std::vector<Prediction> out;
  for (const std::string& path : request.paths) {
    Prediction p{path, {}, {}, models.front().task()};
    std::vector<std::uint8_t> bytes;
    std::vector<float> sum;
    if (!io::read_file(path, bytes, p.error)) p.error = "unreadable: " + p.error;
    for (std::size_t m = 0; m < models.size() && p.error.empty(); ++m) {
      // Each model decodes the file as its training data was decoded (channels, size).
      const io::DecodeResult decoded = io::decode_image(bytes, models[m].decode_options());
      if (!decoded.ok()) {
        p.error = decoded.reason + ": " + decoded.detail;
        break;
      }
      const std::vector<float> probabilities = models[m].probabilities(decoded.image);
      sum.resize(probabilities.size(), 0.f);
      for (std::size_t c = 0; c < sum.size(); ++c) sum[c] += probabilities[c];
    }
    if (p.error.empty()) {
      for (float& v : sum) v /= static_cast<float>(models.size());
      const auto& names = models.front().class_names();
      if (p.task == nn::Task::kClassification) {
        p.top = top_classes(sum, names, request.top_k);
      } else if (p.task == nn::Task::kMultiLabel) {
        for (const auto& [name, probability] :
             top_classes(sum, names, static_cast<int>(sum.size())))
          if (probability >= request.threshold) p.top.emplace_back(name, probability);
      } else {
        for (std::size_t d = 0; d < sum.size(); ++d) p.top.emplace_back(names.at(d), sum[d]);
      }
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace kiln::pipeline
