#include "pipeline/jobs/predictor.hpp"

#include <algorithm>
#include <numeric>

#include "io/decode.hpp"
#include "io/model_file.hpp"
#include "nn/error.hpp"
#include "nn/loss.hpp"
#include "pipeline/jobs/evaluator.hpp"
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

std::vector<Prediction> predict_images(const PredictRequest& request) {
  io::ModelBundle bundle = io::load_model(request.model_path);
  const Json& pre = bundle.preprocessing;
  // Size each image as kiln preprocess sized the training data.
  const Storage storage = storage_of_model(pre, request.model_path);
  const bool ragged = !storage.fixed();
  const Normalization normalization =
      Normalization::from_json(pre.at("normalization"), bundle.arrays);
  const nn::Shape input = bundle.model.input_shape();
  const cv::Size crop(static_cast<int>(input.w), static_cast<int>(input.h));
  const cv::Size stored_size(static_cast<int>(storage.width), static_cast<int>(storage.height));

  auto stages = make_stages(pre.value("eval_stages", Json::array()));
  std::optional<ViewOptions> views;
  if (request.crops != 1) {
    views = default_views(pre, stored_size, crop, request.crops, request.scales, request.padding);
    if (!ragged) plan_views(stored_size, *views);  // a crop that does not fit stops here
    std::erase_if(stages, [](const std::unique_ptr<Stage>& st) { return st->changes_size(); });
  }

  io::DecodeOptions decode;
  decode.channels = storage.channels;
  decode.min_short_side =
      static_cast<int>(ragged ? storage.short_side : std::max(storage.height, storage.width));

  std::vector<Prediction> out;
  std::vector<cv::Mat> cut;
  nn::Tensor probabilities;
  for (const std::string& path : request.paths) {
    Prediction p{path, {}, {}};
    std::vector<std::uint8_t> bytes;
    std::string error;
    io::DecodeResult decoded;
    if (!io::read_file(path, bytes, error)) {
      p.error = "unreadable: " + error;
    } else if (decoded = io::decode_image(bytes, decode); !decoded.ok()) {
      p.error = decoded.reason + ": " + decoded.detail;
    }
    if (!p.error.empty()) {
      out.push_back(std::move(p));
      continue;
    }
    cv::Mat image = fit_to_storage(decoded.image, storage);
    for (const auto& stage : stages) stage->run(image, nn::Mode::kEval, {});
    if (views) {
      make_views(image, *views, cut);
    } else {
      cut.assign(1, image);
    }
    nn::Tensor x(input.with_n(static_cast<std::int64_t>(cut.size())));
    const auto per_view = static_cast<std::size_t>(input.per_sample());
    for (std::size_t v = 0; v < cut.size(); ++v) {
      if (cut[v].rows != input.h || cut[v].cols != input.w) {
        throw Error(request.model_path + ": its eval stages give " + std::to_string(cut[v].cols) +
                    "x" + std::to_string(cut[v].rows) + " images but the model takes " +
                    input.str());
      }
      if (!cut[v].isContinuous()) cut[v] = cut[v].clone();
      pack_image(cut[v], normalization, x.span().subspan(v * per_view, per_view));
    }
    const nn::Tensor& logits = bundle.model.forward(x, {});
    const std::vector<std::int32_t> any_labels(cut.size(), 0);
    nn::SoftmaxCrossEntropy::compute(logits, any_labels, nullptr, &probabilities);
    // The mean over the views (one view: the probabilities themselves).
    const auto classes = static_cast<std::size_t>(probabilities.size()) / cut.size();
    std::vector<float> mean(classes, 0.f);
    for (std::size_t v = 0; v < cut.size(); ++v) {
      for (std::size_t c = 0; c < classes; ++c) {
        mean[c] += probabilities[static_cast<std::int64_t>(v * classes + c)];
      }
    }
    for (float& m : mean) m /= static_cast<float>(cut.size());
    p.top = top_classes(mean, bundle.class_names, request.top_k);
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace kiln::pipeline
