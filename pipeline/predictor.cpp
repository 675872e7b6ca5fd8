#include "pipeline/predictor.hpp"

#include <algorithm>
#include <numeric>

#include "io/decode.hpp"
#include "io/model_file.hpp"
#include "nn/error.hpp"
#include "nn/loss.hpp"
#include "pipeline/dataset_builder.hpp"
#include "pipeline/normalize.hpp"
#include "pipeline/pack.hpp"
#include "pipeline/transforms/registry.hpp"

namespace kiln::pipeline {

std::vector<Prediction> predict_images(const std::string& model_path,
                                       const std::vector<std::string>& paths, int top_k) {
  io::ModelBundle bundle = io::load_model(model_path);
  const Json& pre = bundle.preprocessing;
  if (!pre.contains("normalization") || !pre.contains("input")) {
    throw Error(model_path +
                ": the model file has no preprocessing record; re-train it with kiln train");
  }
  const Normalization normalization = Normalization::from_json(pre.at("normalization"));
  const auto stored = pre.at("input").get<std::vector<std::int64_t>>();  // dataset (C, H, W)
  if (stored.size() != 3)
    throw Error(model_path + ": malformed preprocessing input " + pre.at("input").dump());
  const auto stages = make_stages(pre.value("eval_stages", Json::array()));
  const nn::Shape input = bundle.model.input_shape();

  io::DecodeOptions decode;
  decode.channels = static_cast<int>(stored[0]);
  decode.min_short_side = static_cast<int>(std::max(stored[1], stored[2]));

  std::vector<Prediction> out;
  nn::Tensor x(input), probabilities;
  for (const std::string& path : paths) {
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
    cv::Mat image = resize_and_centre_crop(decoded.image, stored[1], stored[2]);
    for (const auto& stage : stages) stage->run(image, nn::Mode::kEval, {});
    if (image.rows != input.h || image.cols != input.w) {
      throw Error(model_path + ": its eval stages give " + std::to_string(image.cols) + "x" +
                  std::to_string(image.rows) + " images but the model takes " + input.str());
    }
    if (!image.isContinuous()) image = image.clone();
    pack_image(image, normalization, x.span());
    const nn::Tensor& logits = bundle.model.forward(x, {});
    const std::vector<std::int32_t> any_label = {0};
    nn::SoftmaxCrossEntropy::compute(logits, any_label, nullptr, &probabilities);
    std::vector<std::size_t> order(static_cast<std::size_t>(probabilities.size()));
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return probabilities[static_cast<std::int64_t>(a)] >
             probabilities[static_cast<std::int64_t>(b)];
    });
    for (std::size_t k = 0; k < order.size() && static_cast<int>(k) < top_k; ++k) {
      const std::size_t c = order[k];
      const std::string name =
          c < bundle.class_names.size() ? bundle.class_names[c] : std::to_string(c);
      p.top.emplace_back(name, probabilities[static_cast<std::int64_t>(c)]);
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace kiln::pipeline
