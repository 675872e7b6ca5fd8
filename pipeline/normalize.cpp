#include "pipeline/normalize.hpp"

#include <algorithm>

#include "nn/error.hpp"

namespace kiln::pipeline {
namespace {
// A constant channel has std 0; dividing by it would turn the channel into inf/NaN.
constexpr float kMinStd = 1e-3f;
}  // namespace

Normalization Normalization::from_statistics(const io::ChannelStatistics& stats,
                                             const std::string& channel_order,
                                             const std::string& mode) {
  Normalization n;
  n.channel_order = channel_order;
  n.mode = mode;
  for (std::size_t c = 0; c < stats.mean.size(); ++c) {
    n.mean.push_back(static_cast<float>(stats.mean[c]));
    n.std.push_back(std::max(static_cast<float>(stats.std[c]), kMinStd));
  }
  if (mode == "channel") return n;
  if (mode != "mean_image" && mode != "zca") {
    throw Error("normalization mode must be channel, mean_image or zca, got '" + mode + "'");
  }
  if (stats.mean_image.empty()) {
    throw Error("normalization " + mode +
                " needs the dataset's mean image, which only fixed-size files have (kiln "
                "preprocess --size, or kiln fit for older files)");
  }
  n.mean_image.assign(stats.mean_image.begin(), stats.mean_image.end());
  if (mode == "zca") {
    if (stats.zca.empty()) {
      throw Error("normalization zca needs a fitted whitening matrix: run kiln fit DATA --zca 0.1");
    }
    n.zca = stats.zca;
  }
  return n;
}

Json Normalization::to_json() const {
  Json j = {{"channel_order", channel_order}, {"mean", mean}, {"std", std}, {"scale", "0-255"}};
  if (mode != "channel") j["mode"] = mode;  // the arrays travel in arrays()
  return j;
}

io::PreprocessingArrays Normalization::arrays() const {
  io::PreprocessingArrays a;
  if (!mean_image.empty()) a["mean_image"] = mean_image;
  if (!zca.empty()) a["zca"] = zca;
  return a;
}

Normalization Normalization::from_json(const Json& json, const io::PreprocessingArrays& arrays) {
  Normalization n;
  try {
    n.channel_order = json.at("channel_order").get<std::string>();
    n.mean = json.at("mean").get<std::vector<float>>();
    n.std = json.at("std").get<std::vector<float>>();
    n.mode = json.value("mode", std::string("channel"));
  } catch (const Json::exception& e) {
    throw Error(std::string("normalization: missing or malformed key: ") + e.what());
  }
  if (n.mean.empty() || n.mean.size() != n.std.size()) {
    throw Error("normalization: mean and std must have one value per channel");
  }
  for (float s : n.std) {
    if (!(s > 0.f)) throw Error("normalization: std values must be > 0");
  }
  if (n.mode != "channel") {
    const auto image = arrays.find("mean_image");
    if (image == arrays.end())
      throw Error("normalization " + n.mode + ": the mean image is missing");
    n.mean_image = image->second;
  }
  if (n.mode == "zca") {
    const auto w = arrays.find("zca");
    const std::size_t d = n.mean_image.size();
    if (w == arrays.end() || w->second.size() != d * d) {
      throw Error("normalization zca: the whitening matrix is missing or not " + std::to_string(d) +
                  "x" + std::to_string(d));
    }
    n.zca = w->second;
  }
  return n;
}

void Normalization::check_image_size(std::int64_t h, std::int64_t w, std::int64_t c,
                                     const std::string& what) const {
  if (mean_image.empty()) return;
  if (static_cast<std::size_t>(h * w * c) != mean_image.size()) {
    throw Error(what + ": normalization " + mode + " was fitted on images of " +
                std::to_string(mean_image.size()) + " values but these are " + std::to_string(h) +
                "x" + std::to_string(w) + "x" + std::to_string(c) +
                "; use stages that keep the stored size, or normalization mode channel");
  }
}

void Normalization::check_compatible(std::int64_t channels, const std::string& order,
                                     const std::string& what) const {
  if (static_cast<std::int64_t>(mean.size()) != channels || order != channel_order) {
    throw Error(what + " has " + std::to_string(channels) + " channel(s) in order " + order +
                " but the normalization was fitted on " + std::to_string(mean.size()) +
                " channel(s) in order " + channel_order +
                "; preprocess it with the same --channels as the training data");
  }
}

}  // namespace kiln::pipeline
