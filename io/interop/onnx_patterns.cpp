#include "io/interop/onnx_patterns.hpp"

#include <cmath>

#include "nn/error.hpp"

namespace kiln::io {

std::optional<std::optional<OnnxPatternLayer>> OnnxPatterns::read(const onnx::NodeProto& node) {
  if (node.input_size() == 0) return std::nullopt;
  using Reader = Step (OnnxPatterns::*)(const onnx::NodeProto&);
  for (const Reader pattern :
       {&OnnxPatterns::gelu, &OnnxPatterns::layer_norm, &OnnxPatterns::channel_shuffle}) {
    if (Step step = (this->*pattern)(node)) return step;
  }
  return std::nullopt;
}

const OnnxPatterns::Held* OnnxPatterns::held(const onnx::NodeProto& node, int k,
                                             const char* pattern, int step) const {
  if (node.input_size() <= k) return nullptr;
  const auto it = held_.find(node.input(k));
  if (it == held_.end() || it->second.pattern != pattern || it->second.step != step) return nullptr;
  return &it->second;
}

bool OnnxPatterns::constant_is(const onnx::NodeProto& node, int k, float value) const {
  const OnnxConstant* c = node.input_size() > k ? graph_.constant(node.input(k)) : nullptr;
  return c != nullptr && c->count() == 1 &&
         std::abs(c->values[0] - value) <= 1e-5f * std::abs(value);
}

OnnxPatterns::Step OnnxPatterns::hold(const onnx::NodeProto& node, Held h) {
  held_[node.output(0)] = std::move(h);
  return std::optional<OnnxPatternLayer>{};
}

OnnxPatterns::Step OnnxPatterns::gelu(const onnx::NodeProto& node) {
  const std::string& op = node.op_type();
  if (op == "Div" && graph_.is_activation(node.input(0)) && constant_is(node, 1, std::sqrt(2.f)))
    return hold(node, {"gelu", node.input(0), 1});
  if (op == "Erf") {
    if (const Held* h = held(node, 0, "gelu", 1)) return hold(node, {"gelu", h->input, 2});
  }
  if (op == "Add" && constant_is(node, 1, 1.f)) {
    if (const Held* h = held(node, 0, "gelu", 2)) return hold(node, {"gelu", h->input, 3});
  }
  if (op != "Mul" || node.input_size() != 2) return std::nullopt;
  for (int k = 0; k < 2; ++k) {
    if (const Held* h = held(node, k, "gelu", 3); h && node.input(1 - k) == h->input)
      return hold(node, {"gelu", h->input, 4});
    if (const Held* h = held(node, k, "gelu", 4); h && constant_is(node, 1 - k, 0.5f))
      return std::optional<OnnxPatternLayer>{OnnxPatternLayer{h->input, {{"type", "gelu"}}, {}}};
  }
  return std::nullopt;
}

OnnxPatterns::Step OnnxPatterns::layer_norm(const onnx::NodeProto& node) {
  const std::string& op = node.op_type();
  // The channel axis: the last of a channels-last value, or axis 1 of kiln's own export.
  const auto channel_axis = [&](bool channels_last) {
    const auto* axes = onnx_attribute(node, "axes");
    if (axes == nullptr || axes->ints_size() != 1) return false;
    const std::int64_t a = axes->ints(0);
    return channels_last ? a == -1 || a == 3 : a == 1 || a == -3;
  };
  if (op == "ReduceMean") {
    if (const Held* h = held(node, 0, "layer_norm", 3); h && channel_axis(h->channels_last))
      return hold(node, {"layer_norm", h->input, 4, h->channels_last});
    const std::string& x = node.input(0);
    const bool last = graph_.channels_last(x);
    if (graph_.is_activation(x) && channel_axis(last))
      return hold(node, {"layer_norm", x, 1, last});
  }
  if (op == "Sub" && node.input_size() == 2) {
    if (const Held* h = held(node, 1, "layer_norm", 1); h && node.input(0) == h->input)
      return hold(node, {"layer_norm", h->input, 2, h->channels_last});
  }
  if (op == "Pow" && constant_is(node, 1, 2.f)) {
    if (const Held* h = held(node, 0, "layer_norm", 2))
      return hold(node, {"layer_norm", h->input, 3, h->channels_last});
  }
  if (op == "Add" && node.input_size() == 2) {
    if (const Held* h = held(node, 0, "layer_norm", 4)) {
      const OnnxConstant* epsilon = graph_.constant(node.input(1));
      if (epsilon == nullptr || epsilon->count() != 1 || !(epsilon->values[0] > 0.f))
        throw Error("a LayerNorm's epsilon must be one constant > 0");
      Held next{"layer_norm", h->input, 5, h->channels_last};
      next.epsilon = epsilon->values[0];
      return hold(node, next);
    }
  }
  if (op == "Sqrt") {
    if (const Held* h = held(node, 0, "layer_norm", 5)) {
      Held next = *h;
      next.step = 6;
      return hold(node, next);
    }
  }
  if (op == "Div" && node.input_size() == 2) {
    const Held* centred = held(node, 0, "layer_norm", 2);
    const Held* deviation = held(node, 1, "layer_norm", 6);
    if (centred && deviation && centred->input == deviation->input) {
      Held next = *deviation;
      next.step = 7;
      return hold(node, next);
    }
  }
  const auto per_channel = [&](int k, const Held& h) -> const OnnxConstant* {
    const OnnxConstant* c = graph_.constant(node.input(k));
    const std::int64_t channels = graph_.shape(h.input).at(1);
    return c != nullptr && c->count() == channels ? c : nullptr;
  };
  for (int k = 0; k < 2 && node.input_size() == 2; ++k) {
    if (const Held* h = held(node, k, "layer_norm", 7); h && op == "Mul") {
      const OnnxConstant* gamma = per_channel(1 - k, *h);
      if (gamma == nullptr) throw Error("a LayerNorm's scale must be one constant per channel");
      Held next = *h;
      next.step = 8;
      next.gamma = gamma->values;
      return hold(node, next);
    }
    if (const Held* h = held(node, k, "layer_norm", 8); h && op == "Add") {
      const OnnxConstant* beta = per_channel(1 - k, *h);
      if (beta == nullptr) throw Error("a LayerNorm's shift must be one constant per channel");
      return std::optional<OnnxPatternLayer>{
          OnnxPatternLayer{h->input,
                           {{"type", "layer_norm"}, {"epsilon", h->epsilon}},
                           {{"gamma", h->gamma}, {"beta", beta->values}}}};
    }
  }
  return std::nullopt;
}

OnnxPatterns::Step OnnxPatterns::channel_shuffle(const onnx::NodeProto& node) {
  const std::string& op = node.op_type();
  if (op == "Transpose") {
    const Held* h = held(node, 0, "channel_shuffle", 1);
    if (h == nullptr) return std::nullopt;
    const auto* perm = onnx_attribute(node, "perm");
    const bool swap =
        perm != nullptr && std::vector<std::int64_t>(perm->ints().begin(), perm->ints().end()) ==
                               std::vector<std::int64_t>{0, 2, 1, 3, 4};
    if (!swap)
      throw Error("kiln transposes a 5-D activation only as a channel shuffle (0, 2, 1, 3, 4)");
    Held next = *h;
    next.step = 2;
    return hold(node, next);
  }
  if (op != "Reshape" || node.input_size() < 2) return std::nullopt;
  const OnnxConstant* shape = graph_.constant(node.input(1));
  if (shape == nullptr) return std::nullopt;
  const std::vector<std::int64_t>& to = shape->integers;
  if (const Held* h = held(node, 0, "channel_shuffle", 2); h && to.size() == 4) {
    return std::optional<OnnxPatternLayer>{
        OnnxPatternLayer{h->input, {{"type", "channel_shuffle"}, {"groups", h->groups}}, {}}};
  }
  if (to.size() != 5 || !graph_.is_activation(node.input(0))) return std::nullopt;
  const std::vector<std::int64_t> s = graph_.shape(node.input(0));
  const bool shuffle = s.size() == 4 && to[1] > 0 && s[1] % to[1] == 0 &&
                       (to[2] == s[1] / to[1] || to[2] == -1) && to[3] == s[2] && to[4] == s[3];
  if (!shuffle) throw Error("kiln reshapes an activation to 5-D only as a channel shuffle");
  Held first{"channel_shuffle", node.input(0), 1};
  first.groups = to[1];
  return hold(node, first);
}

}  // namespace kiln::io
