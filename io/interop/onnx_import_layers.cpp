// The ops of an ONNX graph as kiln layers: OnnxImporter's per-op members
// (io/interop/onnx_importer.hpp).
#include <algorithm>
#include <cmath>
#include <limits>

#include "io/interop/onnx_importer.hpp"
#include "nn/layers/activations.hpp"

namespace kiln::io {

void OnnxImporter::single_input_layer(const onnx::NodeProto& node) {
  const std::string& op = node.op_type();
  const std::string& x = node.input(0);
  const std::vector<std::string> in = {source(node, x)};
  if (op == "Sigmoid" && multi_label_ && node.output(0) == output_) {
    output_ = x;  // a multi-label model's outputs are logits in kiln, as a Softmax's are
    return;
  }
  if (op == "Relu" || op == "Sigmoid" || op == "Tanh") {
    add_layer(node, {{"type", op == "Relu" ? "relu" : op == "Sigmoid" ? "sigmoid" : "tanh"}}, in);
  } else if (op == "Clip") {
    clip(node, in);
  } else if (op == "HardSigmoid") {
    add_layer(node,
              {{"type", "hard_sigmoid"},
               {"alpha", float_attr(node, "alpha", 0.2f)},
               {"beta", float_attr(node, "beta", 0.5f)}},
              in);
  } else if (op == "HardSwish") {
    add_layer(node, {{"type", "hard_swish"}}, in);
  } else if (op == "ReduceMean") {
    reduce_mean(node, in);
  } else if (op == "LeakyRelu") {
    add_layer(node, {{"type", "leaky_relu"}, {"alpha", float_attr(node, "alpha", 0.01f)}}, in);
  } else if (op == "GlobalAveragePool") {
    add_layer(node, {{"type", "global_avg_pool2d"}}, in);
  } else if (op == "Flatten") {
    if (int_attr(node, "axis", 1) != 1) fail(node, "kiln flattens from axis 1 only");
    add_layer(node, {{"type", "flatten"}}, in);
  } else if (op == "Reshape") {
    reshape(node, in);
  } else if (op == "Dropout") {
    float ratio = float_attr(node, "ratio", 0.5f);  // opset < 12: an attribute
    if (node.input_size() > 1 && !node.input(1).empty()) ratio = weight(node, 1).values.at(0);
    add_layer(node, {{"type", "dropout"}, {"rate", ratio}}, in);
  } else if (op == "LRN") {
    const std::int64_t size = int_attr(node, "size", 0);
    if (size <= 0) fail(node, "needs its 'size'");
    add_layer(node,
              {{"type", "lrn"},
               {"size", size},
               {"alpha", float_attr(node, "alpha", 1e-4f) / static_cast<float>(size)},
               {"beta", float_attr(node, "beta", 0.75f)},
               {"k", float_attr(node, "bias", 1.f)}},
              in);
  } else {
    fail(node, "not supported; supported ops: " + std::string(kOnnxImportOps));
  }
}

void OnnxImporter::reshape(const onnx::NodeProto& node, const std::vector<std::string>& in) {
  const auto& s = weight(node, 1).integers;
  const bool same_as_input =
      in[0] == "input" && s.size() == 4 && s[1] == input_.c && s[2] == input_.h && s[3] == input_.w;
  if (same_as_input) return alias(node, node.input(0));
  const bool batch = s.size() == 2 && (s[0] == 0 || s[0] == -1 || s[0] == 1);
  if (!batch || !(s[1] == -1 || s[1] > 0)) {
    fail(node, "kiln reshapes to (N, -1) only (a flatten)");
  }
  add_layer(node, {{"type", "flatten"}}, in);
}

Json OnnxImporter::padding(const onnx::NodeProto& node) {
  const auto* auto_pad = attribute(node, "auto_pad");
  const std::string mode = auto_pad ? auto_pad->s() : "NOTSET";
  if (mode == "SAME_UPPER") return "same";  // the extra pixel after, as kiln's "same"
  if (mode == "VALID") return "valid";
  if (mode != "NOTSET") fail(node, "auto_pad " + mode + " is not supported; use explicit pads");
  const auto pads = ints_attr(node, "pads", {0, 0, 0, 0});
  if (pads.size() != 4) fail(node, "kiln reads 2-D pads (4 values)");
  return Json(pads);
}

void OnnxImporter::conv(const onnx::NodeProto& node) {
  const Constant& w = weight(node, 1);
  if (w.dims.size() != 4) fail(node, "the weight must be 4-D (F, C / group, KH, KW)");
  const auto kernel = ints_attr(node, "kernel_shape", {w.dims[2], w.dims[3]});
  check_2d(node, kernel);
  const auto dilations = ints_attr(node, "dilations", {1, 1});
  if (dilations.size() != 2) fail(node, "kiln reads 2-D dilations");
  const bool bias = node.input_size() > 2 && !node.input(2).empty();
  Json layer = {{"type", "conv2d"},         {"filters", w.dims[0]},
                {"kernel_size", kernel},    {"strides", ints_attr(node, "strides", {1, 1})},
                {"padding", padding(node)}, {"use_bias", bias}};
  if (dilations != std::vector<std::int64_t>{1, 1}) layer["dilation"] = dilations;
  if (const std::int64_t groups = int_attr(node, "group", 1); groups != 1) layer["groups"] = groups;
  add_layer(node, std::move(layer), {source(node, node.input(0))});
  auto& arrays = weights_.back();
  arrays["weight"] = w.values;
  if (bias) arrays["bias"] = weight(node, 2).values;
}

void OnnxImporter::clip(const onnx::NodeProto& node, const std::vector<std::string>& in) {
  constexpr float kNone = std::numeric_limits<float>::infinity();
  float lo = float_attr(node, "min", -kNone), hi = float_attr(node, "max", kNone);
  if (node.input_size() > 1 && !node.input(1).empty()) lo = weight(node, 1).values.at(0);
  if (node.input_size() > 2 && !node.input(2).empty()) hi = weight(node, 2).values.at(0);
  if (lo == 0.f && hi == 6.f) {
    add_layer(node, {{"type", "relu6"}}, in);
  } else if (lo == 0.f && hi == kNone) {
    add_layer(node, {{"type", "relu"}}, in);
  } else {
    fail(node, "clips to [" + std::to_string(lo) + ", " + std::to_string(hi) +
                   "]; kiln reads Clip as ReLU6 (0, 6) or ReLU (0, no maximum) only");
  }
}

void OnnxImporter::reduce_mean(const onnx::NodeProto& node, const std::vector<std::string>& in) {
  std::vector<std::int64_t> axes = ints_attr(node, "axes", {});
  if (node.input_size() > 1 && !node.input(1).empty()) axes = weight(node, 1).integers;
  for (std::int64_t& a : axes) a = a < 0 ? a + 4 : a;
  std::sort(axes.begin(), axes.end());
  if (axes != std::vector<std::int64_t>{2, 3}) fail(node, "kiln averages over H and W only");
  add_layer(node, {{"type", "global_avg_pool2d"}}, in);
}

void OnnxImporter::multiply(const onnx::NodeProto& node) {
  if (node.input_size() != 2) fail(node, "needs two inputs");
  if (constant(node.input(0)) || constant(node.input(1))) return scale_last_layer(node);
  for (int gate = 0; gate < 2; ++gate) {
    const std::string& x = source(node, node.input(1 - gate));
    Json* head = last_layer_read_once(node, node.input(gate));
    if (head == nullptr || head->at("inputs") != Json::array({x})) continue;
    const bool hard =
        head->at("type") == "hard_sigmoid" &&
        head->at("alpha").get<float>() == nn::ElementwiseActivation::kHardSigmoidAlpha &&
        head->at("beta").get<float>() == 0.5f;
    if (head->at("type") != "sigmoid" && !hard) continue;
    *head = {{"type", hard ? "hard_swish" : "silu"},
             {"name", head->at("name")},
             {"inputs", head->at("inputs")}};
    values_[node.output(0)] = head->at("name").get<std::string>();
    return;
  }
  add_layer(node, {{"type", "multiply"}},
            {source(node, node.input(0)), source(node, node.input(1))});
}

void OnnxImporter::scale_last_layer(const onnx::NodeProto& node) {
  const int k = constant(node.input(0)) ? 0 : 1;
  const std::string& x = node.input(1 - k);
  Json* layer = last_layer_read_once(node, x);
  const std::string type = layer ? layer->at("type").get<std::string>() : "";
  if (type != "conv2d" && type != "dense") {
    fail(node,
         "multiplying by a constant is supported on the input before any layer (its "
         "normalization) or right after a Conv, Gemm or MatMul (a scale per output)");
  }
  const auto units = layer->at(type == "dense" ? "units" : "filters").get<std::size_t>();
  std::vector<float> scale = constant(node.input(k))->values;
  if (scale.size() == 1) scale.assign(units, scale[0]);
  if (scale.size() != units) {
    fail(node, "a scale of " + std::to_string(scale.size()) + " values for " +
                   std::to_string(units) + " outputs");
  }
  auto& arrays = weights_.back();
  std::vector<float>& w = arrays.at("weight");
  const std::size_t per_output = w.size() / units;
  for (std::size_t u = 0; u < units; ++u)
    for (std::size_t i = 0; i < per_output; ++i) w[u * per_output + i] *= scale[u];
  if (arrays.count("bias"))
    for (std::size_t u = 0; u < units; ++u) arrays["bias"][u] *= scale[u];
  values_[node.output(0)] = source(node, x);
}

void OnnxImporter::pointwise_conv(const onnx::NodeProto& node) {
  const Constant& b = weight(node, 1);
  if (b.dims.size() != 2) fail(node, "the weight must be 2-D (C, F)");
  const std::int64_t inputs = b.dims[0], filters = b.dims[1];
  std::vector<float> w(b.values.size());
  for (std::int64_t f = 0; f < filters; ++f)
    for (std::int64_t c = 0; c < inputs; ++c) w[f * inputs + c] = b.values[c * filters + f];
  add_layer(node,
            {{"type", "conv2d"}, {"filters", filters}, {"kernel_size", 1}, {"use_bias", false}},
            {source(node, node.input(0))});
  weights_.back()["weight"] = std::move(w);
}

void OnnxImporter::layer_normalization(const onnx::NodeProto& node) {
  const std::int64_t axis = int_attr(node, "axis", -1);
  if (axis != -1 && axis != 3) fail(node, "kiln normalizes over the channels (the last axis) only");
  add_layer(node, {{"type", "layer_norm"}, {"epsilon", float_attr(node, "epsilon", 1e-5f)}},
            {source(node, node.input(0))});
  weights_.back()["gamma"] = weight(node, 1).values;
  if (node.input_size() > 2 && !node.input(2).empty()) {
    weights_.back()["beta"] = weight(node, 2).values;
  } else {
    weights_.back()["beta"] = std::vector<float>(weight(node, 1).values.size(), 0.f);
  }
}

void OnnxImporter::resize(const onnx::NodeProto& node) {
  const bool upsample = node.op_type() == "Upsample";
  const std::string mode = string_attr(node, "mode", "nearest");
  const std::string centres =
      upsample ? "asymmetric" : string_attr(node, "coordinate_transformation_mode", "half_pixel");
  const std::string rounding =
      upsample ? "floor" : string_attr(node, "nearest_mode", "round_prefer_floor");
  std::vector<float> scales;
  if (const auto* a = attribute(node, "scales"))
    scales.assign(a->floats().begin(), a->floats().end());
  const int scales_input = upsample || node.input_size() == 2 ? 1 : 2;
  const Constant* given = node.input_size() > scales_input && !node.input(scales_input).empty()
                              ? &weight(node, scales_input)
                              : nullptr;
  if (given != nullptr && given->count() > 0) {
    scales = given->values;
  } else if (node.input_size() > 3 && !node.input(3).empty()) {
    const std::vector<std::int64_t> in = static_shape(node, node.input(0));
    const std::vector<std::int64_t>& sizes = weight(node, 3).integers;
    if (in.size() != 4 || sizes.size() != 4) fail(node, "kiln resizes (N, C, H, W) values");
    scales = {1.f, 1.f, static_cast<float>(sizes[2]) / static_cast<float>(in[2]),
              static_cast<float>(sizes[3]) / static_cast<float>(in[3])};
  }
  const auto whole = [](float f) { return f >= 1.f && f == std::floor(f); };
  if (scales.size() != 4 || scales[0] != 1.f || scales[1] != 1.f || !whole(scales[2]) ||
      !whole(scales[3])) {
    fail(node, "kiln enlarges H and W by whole factors only");
  }
  const bool half_pixel = centres == "half_pixel" || centres == "pytorch_half_pixel";
  const bool nearest =
      mode == "nearest" && (half_pixel || (centres == "asymmetric" && rounding == "floor"));
  const bool linear = (mode == "linear" || mode == "bilinear") && half_pixel;
  if (!nearest && !linear) {
    fail(node, "mode " + mode + " with coordinate_transformation_mode " + centres +
                   " is not supported; kiln reads nearest (asymmetric floor, or half_pixel) and "
                   "linear with half_pixel centres (align_corners=False)");
  }
  add_layer(node,
            {{"type", "upsample"},
             {"size", {static_cast<std::int64_t>(scales[2]), static_cast<std::int64_t>(scales[3])}},
             {"interpolation", nearest ? "nearest" : "bilinear"}},
            {source(node, node.input(0))});
}

void OnnxImporter::slice(const onnx::NodeProto& node) {
  const auto input_or = [&](int k, const char* name, std::vector<std::int64_t> fallback) {
    if (node.input_size() > k && !node.input(k).empty()) return weight(node, k).integers;
    return ints_attr(node, name, std::move(fallback));
  };
  const auto starts = input_or(1, "starts", {}), ends = input_or(2, "ends", {});
  const auto axes = input_or(3, "axes", {1}), steps = input_or(4, "steps", {1});
  const bool channels = starts.size() == 1 && ends.size() == 1 && axes.size() == 1 &&
                        (axes[0] == 1 || axes[0] == -3) && steps == std::vector<std::int64_t>{1};
  if (!channels) fail(node, "kiln slices channels only (axis 1, step 1)");
  const std::int64_t c = static_shape(node, node.input(0)).at(1);
  const auto bound = [c](std::int64_t v) {
    return std::clamp<std::int64_t>(v < 0 ? v + c : v, 0, c);
  };
  add_layer(node, {{"type", "channel_slice"}, {"begin", bound(starts[0])}, {"end", bound(ends[0])}},
            {source(node, node.input(0))});
}

void OnnxImporter::pad(const onnx::NodeProto& node) {
  const auto* mode = attribute(node, "mode");
  if (mode != nullptr && mode->s() != "constant") fail(node, "kiln pads with zeros only");
  std::vector<std::int64_t> pads = ints_attr(node, "pads", {});  // before opset 11
  if (node.input_size() > 1 && !node.input(1).empty()) pads = weight(node, 1).integers;
  float value = float_attr(node, "value", 0.f);
  if (node.input_size() > 2 && !node.input(2).empty()) value = weight(node, 2).values.at(0);
  if (pads.size() != 8 || value != 0.f) fail(node, "kiln pads H and W of an NCHW value with zeros");
  const bool batch_or_channels = pads[0] || pads[1] || pads[4] || pads[5];
  const bool negative = std::any_of(pads.begin(), pads.end(), [](auto p) { return p < 0; });
  if (batch_or_channels || negative) {
    fail(node, "kiln pads H and W only, by pixels >= 0");
  }
  if (std::all_of(pads.begin(), pads.end(), [](auto p) { return p == 0; })) {
    return alias(node, node.input(0));
  }
  add_layer(node, {{"type", "zero_pad2d"}, {"padding", {pads[2], pads[3], pads[6], pads[7]}}},
            {source(node, node.input(0))});
}

void OnnxImporter::dense(const onnx::NodeProto& node, const Constant& b, bool transposed,
                         float scale) {
  if (b.dims.size() != 2) fail(node, "the weight must be 2-D");
  const std::int64_t units = transposed ? b.dims[0] : b.dims[1];
  const std::int64_t inputs = transposed ? b.dims[1] : b.dims[0];
  std::vector<float> w(b.values.size());
  for (std::int64_t u = 0; u < units; ++u) {
    for (std::int64_t i = 0; i < inputs; ++i) {
      w[u * inputs + i] = scale * b.values[transposed ? u * inputs + i : i * units + u];
    }
  }
  add_layer(node, {{"type", "dense"}, {"units", units}, {"use_bias", false}},
            {source(node, node.input(0))});
  weights_.back()["weight"] = std::move(w);
}

void OnnxImporter::gemm(const onnx::NodeProto& node) {
  if (int_attr(node, "transA", 0) != 0) fail(node, "transA = 1 is not supported");
  dense(node, weight(node, 1), int_attr(node, "transB", 0) != 0, float_attr(node, "alpha", 1.f));
  if (node.input_size() > 2 && !node.input(2).empty()) {
    std::vector<float> bias = weight(node, 2).values;
    const float beta = float_attr(node, "beta", 1.f);
    for (float& v : bias) v *= beta;
    set_bias(node, std::move(bias));
  }
}

void OnnxImporter::add_to_bias(const onnx::NodeProto& node, std::vector<float> bias) {
  Json& layer = layers_.back();
  const auto units = layer.at(layer.at("type") == "dense" ? "units" : "filters").get<std::size_t>();
  if (bias.size() == 1) bias.assign(units, bias[0]);
  auto& arrays = weights_.back();
  if (bias.size() == units && layer.at("use_bias").get<bool>()) {
    for (std::size_t k = 0; k < units; ++k) bias[k] += arrays.at("bias")[k];
  }
  set_bias(node, std::move(bias));
}

void OnnxImporter::set_bias(const onnx::NodeProto& node, std::vector<float> bias) {
  Json& layer = layers_.back();
  const auto units = layer.at(layer.at("type") == "dense" ? "units" : "filters").get<std::size_t>();
  if (bias.size() == 1) bias.assign(units, bias[0]);
  if (bias.size() != units) {
    fail(node, "a bias of " + std::to_string(bias.size()) + " values for " + std::to_string(units) +
                   " units");
  }
  layer["use_bias"] = true;
  weights_.back()["bias"] = std::move(bias);
}

void OnnxImporter::add(const onnx::NodeProto& node) {
  if (node.input_size() != 2) fail(node, "needs two inputs");
  const Constant* c0 = constant(node.input(0));
  const Constant* c1 = constant(node.input(1));
  if (c0 == nullptr && c1 == nullptr) {
    add_layer(node, {{"type", "add"}}, {source(node, node.input(0)), source(node, node.input(1))});
    return;
  }
  // A constant added to a MatMul or a Conv just before: that layer's bias (MatMul + Add is how
  // some exporters write a fully connected layer; CNTK adds a convolution's (C, 1, 1) bias so).
  const std::string& x = c0 ? node.input(1) : node.input(0);
  const std::string& producer = source(node, x);
  const auto it = layer_of_.find(producer);
  const bool last = it != layer_of_.end() && it->second + 1 == layers_.size() && readers_[x] == 1;
  const std::string type = last ? layers_.back().at("type").get<std::string>() : "";
  if (type != "dense" && type != "conv2d") {
    fail(node, "adding a constant is supported only as the bias of a MatMul, Gemm or Conv");
  }
  add_to_bias(node, (c0 ? c0 : c1)->values);
  values_[node.output(0)] = producer;
}

void OnnxImporter::batch_norm(const onnx::NodeProto& node) {
  if (int_attr(node, "training_mode", 0) != 0) fail(node, "training_mode must be 0");
  const Constant &gamma = weight(node, 1), &beta = weight(node, 2), &mean = weight(node, 3),
                 &var = weight(node, 4);
  // ONNX's momentum weighs the running value, as kiln's; PyTorch exports 1 − its own.
  // An epsilon of 0 is valid ONNX (kiln's own exports write the input normalization so) but not
  // a kiln batch_norm, which must stay finite on a batch of one value: 1e-12 stands in, which
  // changes no float result for variances above 1e-5.
  float epsilon = float_attr(node, "epsilon", 1e-5f);
  if (epsilon == 0.f) epsilon = kZeroEpsilon;
  add_layer(node,
            {{"type", "batch_norm"},
             {"epsilon", epsilon},
             {"momentum", float_attr(node, "momentum", 0.9f)}},
            {source(node, node.input(0))});
  auto& arrays = weights_.back();
  arrays["gamma"] = gamma.values;
  arrays["beta"] = beta.values;
  arrays["running_mean"] = mean.values;
  arrays["running_var"] = var.values;
}

void OnnxImporter::pool(const onnx::NodeProto& node) {
  const bool max = node.op_type() == "MaxPool";
  const auto kernel = ints_attr(node, "kernel_shape", {});
  check_2d(node, kernel);
  if (ints_attr(node, "dilations", {1, 1}) != std::vector<std::int64_t>{1, 1})
    fail(node, "pooling with dilations other than 1 is not supported");
  const auto strides = ints_attr(node, "strides", {1, 1});
  Json pads = padding(node);
  if (max && int_attr(node, "storage_order", 0) != 0)
    fail(node, "storage_order 1 is not supported");
  if (node.output_size() > 1 && !node.output(1).empty())
    fail(node, "the indices output is not supported");
  if (int_attr(node, "ceil_mode", 0) != 0) {
    if (!pads.is_array()) fail(node, "ceil_mode with auto_pad is not supported");
    // ceil((in + pads − k) / s) + 1 windows: pad after by s − 1 and take the floor. The extra
    // windows start inside the image or its stated padding, and padding never counts in kiln.
    pads[2] = pads[2].get<std::int64_t>() + strides[0] - 1;
    pads[3] = pads[3].get<std::int64_t>() + strides[1] - 1;
  }
  const bool padded = pads == "same" ||
                      (pads.is_array() &&
                       std::any_of(pads.begin(), pads.end(), [](const Json& p) { return p != 0; }));
  if (!max && padded && int_attr(node, "count_include_pad", 0) != 0) {
    fail(node,
         "count_include_pad = 1 with padding is not supported (kiln averages only the "
         "pixels inside the image)");
  }
  add_layer(node,
            {{"type", max ? "max_pool2d" : "avg_pool2d"},
             {"pool_size", kernel},
             {"strides", strides},
             {"padding", pads}},
            {source(node, node.input(0))});
}

}  // namespace kiln::io
