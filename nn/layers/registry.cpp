#include "nn/layers/registry.hpp"

#include <algorithm>

#include "nn/error.hpp"
#include "nn/layer_options.hpp"
#include "nn/layers/activations.hpp"
#include "nn/layers/batch_norm.hpp"
#include "nn/layers/channel_ops.hpp"
#include "nn/layers/conv/conv2d.hpp"
#include "nn/layers/dense.hpp"
#include "nn/layers/dropout.hpp"
#include "nn/layers/layer_norm.hpp"
#include "nn/layers/lrn.hpp"
#include "nn/layers/merge.hpp"
#include "nn/layers/pool2d.hpp"
#include "nn/layers/upsample.hpp"
#include "nn/layers/zero_pad2d.hpp"

namespace kiln::nn {
namespace {

struct Entry {
  LayerInfo info;
  std::unique_ptr<Layer> (*from_json)(LayerOptions&);
};

// The one list of layer types: type, its unit's from_json, example options.
const std::vector<Entry>& entries() {
  using A = Activation;
  static const std::vector<Entry> table = [] {
    std::vector<Entry> list = {
        {{"add", "{}"}, &Add::from_json},
        {{"avg_pool2d", R"({"pool_size": 2})"}, &Pool2D::average_from_json},
        {{"batch_norm", R"({"momentum": 0.9})"}, &BatchNorm::from_json},
        {{"channel_shuffle", R"({"groups": 2})"}, &ChannelShuffle::from_json},
        {{"channel_slice", R"({"begin": 1, "end": 2})"}, &ChannelSlice::from_json},
        {{"concat", "{}"}, &Concat::from_json},
        {{"conv2d", R"({"filters": 2, "padding": "same"})"}, &Conv2D::from_json},
        {{"dense", R"({"units": 3})"}, &Dense::from_json},
        {{"dropout", R"({"rate": 0.5})"}, &Dropout::from_json},
        {{"flatten", "{}"}, &Flatten::from_json},
        {{"gelu", "{}"}, &ElementwiseActivation::from_json<A::kGelu>},
        {{"global_avg_pool2d", "{}"}, &GlobalAvgPool2D::from_json},
        {{"hard_sigmoid", R"({"alpha": 0.2})"}, &ElementwiseActivation::from_json<A::kHardSigmoid>},
        {{"hard_swish", "{}"}, &ElementwiseActivation::from_json<A::kHardSwish>},
        {{"layer_norm", R"({"epsilon": 0.5})"}, &LayerNorm::from_json},
        {{"leaky_relu", R"({"alpha": 0.1})"}, &ElementwiseActivation::from_json<A::kLeakyRelu>},
        {{"identity", "{}"}, &Identity::from_json},
        {{"lrn", R"({"size": 3})"}, &LocalResponseNorm::from_json},
        {{"max_pool2d", R"({"pool_size": 2})"}, &Pool2D::max_from_json},
        {{"multiply", "{}"}, &Multiply::from_json},
        {{"relu", "{}"}, &ElementwiseActivation::from_json<A::kRelu>},
        {{"relu6", "{}"}, &ElementwiseActivation::from_json<A::kRelu6>},
        {{"sigmoid", "{}"}, &ElementwiseActivation::from_json<A::kSigmoid>},
        {{"silu", "{}"}, &ElementwiseActivation::from_json<A::kSilu>},
        {{"softmax", "{}"}, &Softmax::from_json},
        {{"stochastic_depth", R"({"rate": 0.2})"}, &StochasticDepth::from_json},
        {{"tanh", "{}"}, &ElementwiseActivation::from_json<A::kTanh>},
        {{"upsample", R"({"size": [2, 3], "interpolation": "bilinear"})"}, &Upsample::from_json},
        {{"zero_pad2d", R"({"padding": [1, 2, 0, 1]})"}, &ZeroPad2D::from_json},
    };
    std::sort(list.begin(), list.end(),
              [](const Entry& a, const Entry& b) { return a.info.type < b.info.type; });
    return list;
  }();
  return table;
}

}  // namespace

std::unique_ptr<Layer> make_layer(const std::string& type, const Json& options) {
  for (const Entry& e : entries()) {
    if (e.info.type != type) continue;
    const Json given = options.is_null() ? Json::object() : options;
    LayerOptions reader(e.info.type, given);
    std::unique_ptr<Layer> layer;
    try {
      layer = e.from_json(reader);
    } catch (const Error&) {
      reader.reject_unknown();  // a misspelt key is the likelier cause: name it first
      throw;
    }
    reader.reject_unknown();
    return layer;
  }
  std::string names;
  for (const auto& t : layer_types()) names += (names.empty() ? "" : ", ") + t;
  throw Error("unknown layer type '" + type + "'; known types: " + names);
}

const std::vector<LayerInfo>& layer_infos() {
  static const std::vector<LayerInfo> infos = [] {
    std::vector<LayerInfo> list;
    for (const Entry& e : entries()) list.push_back(e.info);
    return list;
  }();
  return infos;
}

std::vector<std::string> layer_types() {
  std::vector<std::string> names;
  for (const LayerInfo& info : layer_infos()) names.emplace_back(info.type);
  return names;
}

}  // namespace kiln::nn
