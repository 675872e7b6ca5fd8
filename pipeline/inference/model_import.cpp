#include "pipeline/inference/model_import.hpp"

#include "io/model_file.hpp"
#include "nn/error.hpp"
#include "nn/training/optimizer.hpp"
#include "pipeline/normalize.hpp"

namespace kiln::pipeline {
namespace {

std::vector<float> per_channel(std::vector<float> values, float fallback, std::int64_t channels,
                               const char* what) {
  if (values.empty()) values.assign(static_cast<std::size_t>(channels), fallback);
  if (values.size() == 1) values.assign(static_cast<std::size_t>(channels), values[0]);
  if (static_cast<std::int64_t>(values.size()) != channels) {
    throw Error(std::string("--") + what + ": " + std::to_string(values.size()) +
                " values for a model taking " + std::to_string(channels) + " channels");
  }
  return values;
}

}  // namespace

void save_imported_model(nn::Model& model, const ImportedPreprocessing& pre,
                         std::vector<std::string> class_names, const std::string& output_path) {
  const nn::Shape in = model.input_shape();
  if (in.c != 1 && in.c != 3) {
    throw Error("the model takes " + std::to_string(in.c) +
                " channels; kiln's images have 1 (L) or 3 (RGB)");
  }
  Normalization n;
  n.channel_order = pre.channel_order.empty() ? (in.c == 1 ? "L" : "RGB") : pre.channel_order;
  if ((n.channel_order == "L") != (in.c == 1)) {
    throw Error("channel order " + n.channel_order + " does not fit a model taking " +
                std::to_string(in.c) + " channels");
  }
  if (pre.pixel_scale != 1.f && pre.pixel_scale != 255.f) {
    throw Error("the pixel scale must be 1 (0..1) or 255 (0..255)");
  }
  const float to_bytes = 255.f / pre.pixel_scale;
  n.mean = per_channel(pre.mean, 0.f, in.c, "mean");
  n.std = per_channel(pre.std, 1.f, in.c, "std");
  // a · (x − m) / s + b = (x − (m − b·s/a)) / (s/a): the graph's affine joins the stated one.
  for (std::size_t k = 0; k < pre.input_scale.size() && k < n.mean.size(); ++k) {
    const float a = pre.input_scale[k], b = pre.input_shift.at(k);
    n.mean[k] -= b * n.std[k] / a;
    n.std[k] /= a;
  }
  for (float& m : n.mean) m *= to_bytes;
  for (float& s : n.std) {
    if (!(s > 0.f)) throw Error("--std: every value must be > 0");
    s *= to_bytes;
  }
  const std::int64_t crop = pre.crop > 0 ? pre.crop : in.h;
  if (crop != in.h || in.h != in.w) {
    throw Error("the model takes " + std::to_string(in.h) + "x" + std::to_string(in.w) +
                " images; the crop must be that size (a square input)");
  }
  const std::int64_t stored = pre.resize > 0 ? pre.resize : crop;
  if (stored < crop) {
    throw Error("--resize " + std::to_string(stored) + " is smaller than the crop " +
                std::to_string(crop));
  }
  Json eval_stages = Json::array();
  if (stored > crop) {  // the centre crop of the stored image
    eval_stages.push_back({{"type", "scale_crop"},
                           {"size", crop},
                           {"scale_range", {stored, stored}},
                           {"eval_scale", stored}});
  }
  const std::int64_t classes = model.output_shape().per_sample();
  if (class_names.empty()) {
    for (std::int64_t k = 0; k < classes; ++k) class_names.push_back(std::to_string(k));
  }
  if (static_cast<std::int64_t>(class_names.size()) != classes) {
    throw Error(std::to_string(class_names.size()) + " class names for a model with " +
                std::to_string(classes) + " outputs");
  }
  const Json preprocessing = {{"task", nn::task_name(pre.task)},
                              {"normalization", n.to_json()},
                              {"eval_stages", eval_stages},
                              {"train_stages", eval_stages},
                              {"input", {in.c, stored, stored}}};
  const auto optimizer = nn::make_optimizer({{"type", "sgd"}, {"momentum", 0.9}});
  io::save_model(output_path, model, *optimizer, nn::TrainState{}, preprocessing, class_names);
}

}  // namespace kiln::pipeline
