#include "pipeline/normalize.hpp"

#include "nn/error.hpp"

namespace kiln::pipeline {
namespace {
// A constant channel has std 0; dividing by it would turn the channel into inf/NaN.
constexpr float kMinStd = 1e-3f;
}  // namespace

Normalization Normalization::from_statistics(const io::ChannelStatistics& stats,
                                             const std::string& channel_order) {
  Normalization n;
  n.channel_order = channel_order;
  for (std::size_t c = 0; c < stats.mean.size(); ++c) {
    n.mean.push_back(static_cast<float>(stats.mean[c]));
    n.std.push_back(std::max(static_cast<float>(stats.std[c]), kMinStd));
  }
  return n;
}

Json Normalization::to_json() const {
  return {{"channel_order", channel_order}, {"mean", mean}, {"std", std}, {"scale", "0-255"}};
}

Normalization Normalization::from_json(const Json& json) {
  Normalization n;
  try {
    n.channel_order = json.at("channel_order").get<std::string>();
    n.mean = json.at("mean").get<std::vector<float>>();
    n.std = json.at("std").get<std::vector<float>>();
  } catch (const Json::exception& e) {
    throw Error(std::string("normalization: missing or malformed key: ") + e.what());
  }
  if (n.mean.empty() || n.mean.size() != n.std.size()) {
    throw Error("normalization: mean and std must have one value per channel");
  }
  for (float s : n.std) {
    if (!(s > 0.f)) throw Error("normalization: std values must be > 0");
  }
  return n;
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
