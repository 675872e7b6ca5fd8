#include "io/interop/onnx_export.hpp"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <string>
#include <vector>

#include "io/atomic_file.hpp"
#include "nn/error.hpp"
#include "nn/layers/activations.hpp"
#include "nn/layers/window.hpp"
#include "nn/version.hpp"

namespace kiln::io {
namespace {

constexpr std::int64_t kOpset = 13;

// Builds the graph node by node; each value gets a fresh name.
class GraphBuilder {
 public:
  explicit GraphBuilder(onnx::GraphProto& graph) : graph_(graph) {}

  std::string name(const std::string& hint) { return hint + "_" + std::to_string(next_++); }

  // A float initializer of the given dims.
  std::string constant(const std::string& hint, const std::vector<std::int64_t>& dims,
                       const float* values) {
    onnx::TensorProto* t = graph_.add_initializer();
    t->set_name(name(hint));
    t->set_data_type(onnx::TensorProto::FLOAT);
    std::int64_t count = 1;
    for (const std::int64_t d : dims) {
      t->add_dims(d);
      count *= d;
    }
    t->mutable_float_data()->Add(values, values + count);
    return t->name();
  }

  // A 1-D int64 initializer (pads, shapes).
  std::string integers(const std::string& hint, const std::vector<std::int64_t>& values) {
    onnx::TensorProto* t = graph_.add_initializer();
    t->set_name(name(hint));
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<std::int64_t>(values.size()));
    t->mutable_int64_data()->Add(values.begin(), values.end());
    return t->name();
  }

  std::string scalar(const std::string& hint, float value) { return constant(hint, {}, &value); }

  onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs,
                        std::string* output) {
    onnx::NodeProto* n = graph_.add_node();
    n->set_op_type(op);
    n->set_name(name(op));
    for (const auto& in : inputs) n->add_input(in);
    *output = name(op + "_out");
    n->add_output(*output);
    return *n;
  }

 private:
  onnx::GraphProto& graph_;
  int next_ = 0;
};

void set_ints(onnx::NodeProto& n, const std::string& key, const std::vector<std::int64_t>& v) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(key);
  a->set_type(onnx::AttributeProto::INTS);
  for (const std::int64_t x : v) a->add_ints(x);
}

void set_int(onnx::NodeProto& n, const std::string& key, std::int64_t v) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(key);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

void set_string(onnx::NodeProto& n, const std::string& key, const std::string& v) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(key);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(v);
}

void set_float(onnx::NodeProto& n, const std::string& key, float v) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(key);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}

void add_io(google::protobuf::RepeatedPtrField<onnx::ValueInfoProto>* list, const std::string& name,
            int type, const std::vector<std::string>& dims) {
  onnx::ValueInfoProto* v = list->Add();
  v->set_name(name);
  onnx::TypeProto_Tensor* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(type);
  for (const auto& d : dims) {
    onnx::TensorShapeProto_Dimension* dim = t->mutable_shape()->add_dim();
    if (d == "N") {
      dim->set_dim_param("N");
    } else {
      dim->set_dim_value(std::stoll(d));
    }
  }
}

// Kernel, strides and pads [top, left, bottom, right] of a conv or pool on an (h, w) input.
struct Window {
  std::vector<std::int64_t> kernel, strides, pads;
};

Window window_of(const Json& config, const char* kernel_key, const nn::Shape& in) {
  const nn::Size2 taps = nn::parse_size2(config.at(kernel_key), "layer", kernel_key);
  // A dilated kernel spans (k − 1)·d + 1 pixels: the pads are those of that window.
  const nn::Size2 d = config.contains("dilation")
                          ? nn::parse_size2(config.at("dilation"), "layer", "dilation")
                          : nn::Size2{1, 1};
  const nn::Size2 k{(taps.h - 1) * d.h + 1, (taps.w - 1) * d.w + 1};
  const nn::Size2 s = nn::parse_size2(config.at("strides"), "layer", "strides");
  const nn::Padding p = nn::parse_padding(config.at("padding"), "layer");
  const nn::Window1d wh = nn::window_1d(in.h, k.h, s.h, p, nn::Axis::kHeight);
  const nn::Window1d ww = nn::window_1d(in.w, k.w, s.w, p, nn::Axis::kWidth);
  // The padding after is what the last window needs beyond the image (none when it ends inside).
  const std::int64_t after_h =
      std::max<std::int64_t>((wh.out - 1) * s.h + k.h - in.h - wh.pad_before, 0);
  const std::int64_t after_w =
      std::max<std::int64_t>((ww.out - 1) * s.w + k.w - in.w - ww.pad_before, 0);
  return {{taps.h, taps.w}, {s.h, s.w}, {wh.pad_before, ww.pad_before, after_h, after_w}};
}

nn::Parameter* parameter(nn::Layer& layer, const std::string& name) {
  for (nn::Parameter* p : layer.parameters()) {
    if (p->name == name) return p;
  }
  return nullptr;
}

nn::Buffer* buffer(nn::Layer& layer, const std::string& name) {
  for (nn::Buffer* b : layer.buffers()) {
    if (b->name == name) return b;
  }
  return nullptr;
}

// One kiln layer as ONNX nodes, from `x` (of rank `rank`) to the returned value.
class LayerExporter {
 public:
  explicit LayerExporter(GraphBuilder& g) : g_(g) {}

  // A layer reading `inputs` (of the given per-sample shapes); rank: that of the (last) input in,
  // that of the output out.
  std::string add(nn::Layer& layer, const std::vector<nn::Shape>& shapes,
                  const std::vector<std::string>& inputs, int& rank) {
    const std::string type(layer.type());
    std::string y;
    if (type == "add") {  // ONNX's Add takes two: a chain of them, summed in kiln's order
      y = inputs[0];
      for (std::size_t k = 1; k < inputs.size(); ++k) {
        std::string sum;
        g_.node("Add", {y, inputs[k]}, &sum);
        y = sum;
      }
      return y;
    }
    if (type == "concat") {
      set_int(g_.node("Concat", inputs, &y), "axis", 1);
      return y;
    }
    if (type == "multiply") {
      // ONNX's Mul broadcasts a (N, C, 1, 1) gate as kiln does. The gates go first: OpenCV 4.6
      // gives a Mul the shape of its first input when the second is a layer's (C, 1, 1) output.
      std::vector<std::string> ordered;
      for (const bool gates : {true, false}) {
        for (std::size_t k = 0; k < inputs.size(); ++k) {
          const bool gate = shapes[k].h * shapes[k].w == 1;
          if (gate == gates) ordered.push_back(inputs[k]);
        }
      }
      y = ordered[0];
      for (std::size_t k = 1; k < ordered.size(); ++k) {
        std::string product;
        g_.node("Mul", {y, ordered[k]}, &product);
        y = product;
      }
      return y;
    }
    if (type == "identity") return inputs[0];
    return add_single(layer, shapes[0], inputs[0], rank);
  }

 private:
  std::string add_single(nn::Layer& layer, const nn::Shape& in, std::string x, int& rank) {
    const std::string type(layer.type());
    const Json config = layer.config();
    std::string y;
    if (type == "dense") return dense(layer, std::move(x), rank);
    if (type == "conv2d") return conv(layer, config, in, x);
    if (type == "max_pool2d" || type == "avg_pool2d") {
      const Window w = window_of(config, "pool_size", in);
      auto& n = g_.node(type == "max_pool2d" ? "MaxPool" : "AveragePool", {x}, &y);
      set_ints(n, "kernel_shape", w.kernel);
      set_ints(n, "strides", w.strides);
      set_ints(n, "pads", w.pads);
      if (type == "avg_pool2d") set_int(n, "count_include_pad", 0);
      return y;
    }
    if (type == "global_avg_pool2d") {
      g_.node("GlobalAveragePool", {x}, &y);
      return y;
    }
    if (type == "flatten") return flatten(x, rank);
    if (type == "dropout" || type == "stochastic_depth") return x;  // identities in evaluation
    if (type == "zero_pad2d") {
      const nn::Padding p = nn::parse_padding(config.at("padding"), "zero_pad2d");
      g_.node("Pad", {x, g_.integers("pads", {0, 0, p.top, p.left, 0, 0, p.bottom, p.right})}, &y);
      return y;
    }
    if (type == "upsample") {  // as PyTorch writes F.interpolate(scale_factor=...)
      const nn::Size2 f = nn::parse_size2(config.at("size"), "upsample", "size");
      const float scales[] = {1.f, 1.f, static_cast<float>(f.h), static_cast<float>(f.w)};
      const bool nearest = config.at("interpolation") == "nearest";
      auto& n = g_.node("Resize", {x, "", g_.constant("scales", {4}, scales)}, &y);
      set_string(n, "mode", nearest ? "nearest" : "linear");
      set_string(n, "coordinate_transformation_mode", nearest ? "asymmetric" : "half_pixel");
      if (nearest) set_string(n, "nearest_mode", "floor");
      return y;
    }
    if (type == "channel_slice") {
      const std::int64_t begin = config.at("begin"),
                         end = std::min(config.at("end").get<std::int64_t>(), in.c);
      g_.node(
          "Slice",
          {x, g_.integers("starts", {begin}), g_.integers("ends", {end}), g_.integers("axes", {1})},
          &y);
      return y;
    }
    if (type == "channel_shuffle") {  // as PyTorch writes ShuffleNet's: reshape, swap, reshape
      const std::int64_t groups = config.at("groups");
      std::string grouped, swapped;
      g_.node("Reshape", {x, g_.integers("groups", {0, groups, in.c / groups, in.h, in.w})},
              &grouped);
      set_ints(g_.node("Transpose", {grouped}, &swapped), "perm", {0, 2, 1, 3, 4});
      g_.node("Reshape", {swapped, g_.integers("channels", {0, in.c, in.h, in.w})}, &y);
      return y;
    }
    if (std::string gated = activation(type, config, x); !gated.empty()) return gated;
    if (type == "batch_norm") return batch_norm(layer, config, x);
    if (type == "layer_norm") return layer_norm(layer, config, x);
    if (type == "lrn") {
      auto& n = g_.node("LRN", {x}, &y);
      const auto size = config.at("size").get<std::int64_t>();
      set_int(n, "size", size);
      set_float(n, "alpha", config.at("alpha").get<float>() * static_cast<float>(size));
      set_float(n, "beta", config.at("beta").get<float>());
      set_float(n, "bias", config.at("k").get<float>());
      return y;
    }
    if (type == "relu" || type == "sigmoid" || type == "tanh") {
      g_.node(type == "relu" ? "Relu" : type == "sigmoid" ? "Sigmoid" : "Tanh", {x}, &y);
      return y;
    }
    if (type == "leaky_relu") {
      set_float(g_.node("LeakyRelu", {x}, &y), "alpha", config.at("alpha").get<float>());
      return y;
    }
    if (type == "softmax") {
      set_int(g_.node("Softmax", {x}, &y), "axis", 1);
      return y;
    }
    throw Error("ONNX export: layer type '" + type + "' has no ONNX form yet");
  }

  // The activations after 2017, in opset 13's ops: ReLU6 as Clip(0, 6) (as PyTorch writes it),
  // HardSwish (an op only from opset 14) as x · HardSigmoid(x), SiLU as x · Sigmoid(x), GELU as
  // x · (1 + erf(x / √2)) / 2. Empty for any other type.
  std::string activation(const std::string& type, const Json& config, const std::string& x) {
    std::string y, gate;
    if (type == "relu6") {
      g_.node("Clip", {x, g_.scalar("zero", 0.f), g_.scalar("six", 6.f)}, &y);
    } else if (type == "hard_sigmoid" || type == "hard_swish") {
      auto& n = g_.node("HardSigmoid", {x}, type == "hard_swish" ? &gate : &y);
      set_float(n, "alpha", config.value("alpha", nn::ElementwiseActivation::kHardSigmoidAlpha));
      set_float(n, "beta", config.value("beta", nn::ElementwiseActivation::kHardSigmoidBeta));
      if (type == "hard_swish") g_.node("Mul", {x, gate}, &y);
    } else if (type == "silu") {
      g_.node("Sigmoid", {x}, &gate);
      g_.node("Mul", {x, gate}, &y);
    } else if (type == "gelu") {
      std::string scaled, erf, shifted, product;
      g_.node("Div", {x, g_.scalar("sqrt2", std::sqrt(2.f))}, &scaled);
      g_.node("Erf", {scaled}, &erf);
      g_.node("Add", {erf, g_.scalar("one", 1.f)}, &shifted);
      g_.node("Mul", {x, shifted}, &product);
      g_.node("Mul", {product, g_.scalar("half", 0.5f)}, &y);
    }
    return y;
  }

  std::string flatten(const std::string& x, int& rank) {
    std::string y;
    set_int(g_.node("Flatten", {x}, &y), "axis", 1);
    rank = 2;
    return y;
  }

  std::string dense(nn::Layer& layer, std::string x, int& rank) {
    if (rank != 2) x = flatten(x, rank);
    const nn::Parameter* w = parameter(layer, "weight");
    const nn::Parameter* b = parameter(layer, "bias");
    const std::int64_t units = w->value.shape().n, inputs = w->value.size() / units;
    std::vector<std::string> in = {x, g_.constant("dense_w", {units, inputs}, w->value.data())};
    if (b != nullptr) in.push_back(g_.constant("dense_b", {units}, b->value.data()));
    std::string y;
    set_int(g_.node("Gemm", in, &y), "transB", 1);
    return y;
  }

  std::string conv(nn::Layer& layer, const Json& config, const nn::Shape& in,
                   const std::string& x) {
    const Window w = window_of(config, "kernel_size", in);
    const nn::Parameter* weight = parameter(layer, "weight");
    const nn::Parameter* bias = parameter(layer, "bias");
    const nn::Shape ws = weight->value.shape();
    std::vector<std::string> inputs = {
        x, g_.constant("conv_w", {ws.n, ws.c, ws.h, ws.w}, weight->value.data())};
    if (bias != nullptr) inputs.push_back(g_.constant("conv_b", {ws.n}, bias->value.data()));
    std::string y;
    auto& n = g_.node("Conv", inputs, &y);
    set_ints(n, "kernel_shape", w.kernel);
    set_ints(n, "strides", w.strides);
    set_ints(n, "pads", w.pads);
    if (config.contains("dilation")) {
      const nn::Size2 d = nn::parse_size2(config.at("dilation"), "conv2d", "dilation");
      set_ints(n, "dilations", {d.h, d.w});
    }
    if (const std::int64_t groups = in.c / ws.c; groups != 1) set_int(n, "group", groups);
    return y;
  }

  // LayerNorm over channels in opset 13's ops (LayerNormalization is opset 17's), along axis 1:
  // (x − mean) / sqrt(mean((x − mean)²) + ε) · γ + β, γ and β of shape (C, 1, 1).
  std::string layer_norm(nn::Layer& layer, const Json& config, const std::string& x) {
    const nn::Parameter* gamma = parameter(layer, "gamma");
    const nn::Parameter* beta = parameter(layer, "beta");
    const std::int64_t c = gamma->value.size();
    std::string mean, centred, squared, variance, shifted, deviation, normalized, scaled, y;
    set_ints(g_.node("ReduceMean", {x}, &mean), "axes", {1});
    g_.node("Sub", {x, mean}, &centred);
    g_.node("Pow", {centred, g_.scalar("two", 2.f)}, &squared);
    set_ints(g_.node("ReduceMean", {squared}, &variance), "axes", {1});
    g_.node("Add", {variance, g_.scalar("epsilon", config.at("epsilon").get<float>())}, &shifted);
    g_.node("Sqrt", {shifted}, &deviation);
    g_.node("Div", {centred, deviation}, &normalized);
    g_.node("Mul", {normalized, g_.constant("ln_scale", {c, 1, 1}, gamma->value.data())}, &scaled);
    g_.node("Add", {scaled, g_.constant("ln_bias", {c, 1, 1}, beta->value.data())}, &y);
    return y;
  }

  std::string batch_norm(nn::Layer& layer, const Json& config, const std::string& x) {
    const nn::Parameter* gamma = parameter(layer, "gamma");
    const nn::Parameter* beta = parameter(layer, "beta");
    const nn::Buffer* mean = buffer(layer, "running_mean");
    const nn::Buffer* var = buffer(layer, "running_var");
    const std::int64_t c = gamma->value.size();
    std::string y;
    auto& n = g_.node("BatchNormalization",
                      {x, g_.constant("bn_scale", {c}, gamma->value.data()),
                       g_.constant("bn_bias", {c}, beta->value.data()),
                       g_.constant("bn_mean", {c}, mean->value.data()),
                       g_.constant("bn_var", {c}, var->value.data())},
                      &y);
    set_float(n, "epsilon", config.at("epsilon").get<float>());
    return y;
  }

  GraphBuilder& g_;
};

// The stored normalization as nodes on float (N, C, H, W) pixels: (x − mean) / std, the mean per
// channel or per pixel. The per-channel part is a BatchNormalization (mean, variance std², no
// epsilon): OpenCV 4.6's importer applies a Sub or Mul by a (1, C, 1, 1) constant along the wrong
// axis, which a Sub/Mul form would fail on any runtime built on it.
std::string normalize(GraphBuilder& g, const ModelBundle& bundle, const nn::Shape& input,
                      const std::string& x) {
  const Json& n = bundle.preprocessing.at("normalization");
  const std::string mode = n.value("mode", "channel");
  std::vector<float> mean = n.at("mean").get<std::vector<float>>();
  const auto std = n.at("std").get<std::vector<float>>();
  const auto c = static_cast<std::int64_t>(mean.size());
  std::string centred = x;
  if (mode == "mean_image") {
    const std::vector<float>& hwc = bundle.arrays.at("mean_image");
    std::vector<float> chw(hwc.size());
    const std::int64_t area = input.h * input.w;
    for (std::int64_t p = 0; p < area; ++p)
      for (std::int64_t k = 0; k < c; ++k) chw[k * area + p] = hwc[p * c + k];
    g.node("Sub", {x, g.constant("mean_image", {c, input.h, input.w}, chw.data())}, &centred);
    std::fill(mean.begin(), mean.end(), 0.f);
  } else if (mode != "channel") {
    throw Error("ONNX export: normalization mode '" + mode +
                "' has no ONNX form yet; export a model trained with channel or mean_image");
  }
  std::vector<float> ones(mean.size(), 1.f), zeros(mean.size(), 0.f), variance(std.size());
  for (std::size_t i = 0; i < std.size(); ++i) variance[i] = std[i] * std[i];
  std::string y;
  auto& bn =
      g.node("BatchNormalization",
             {centred, g.constant("norm_scale", {c}, ones.data()),
              g.constant("norm_bias", {c}, zeros.data()), g.constant("norm_mean", {c}, mean.data()),
              g.constant("norm_var", {c}, variance.data())},
             &y);
  set_float(bn, "epsilon", 0.f);
  return y;
}

void add_metadata(onnx::ModelProto& model, const ModelBundle& bundle, const nn::Shape& input) {
  const Json& pre = bundle.preprocessing;
  const std::pair<std::string, std::string> entries[] = {
      {"class_names", Json(bundle.class_names).dump()},
      {"input",
       std::to_string(input.c) + "," + std::to_string(input.h) + "," + std::to_string(input.w)},
      {"channel_order", pre.at("normalization").value("channel_order", "")},
      {"pixel_scale", "0-255"},
      {"normalization", pre.at("normalization").dump()},
      {"eval_stages", pre.value("eval_stages", Json::array()).dump()},
      {"task", pre.value("task", "classification")}};
  for (const auto& [key, value] : entries) {
    onnx::StringStringEntryProto* e = model.add_metadata_props();
    e->set_key(key);
    e->set_value(value);
  }
}

}  // namespace

void export_onnx(ModelBundle& bundle, const std::string& output_path,
                 const OnnxExportOptions& options) {
  nn::Model& net = bundle.model;
  const nn::Shape input = net.input_shape();
  onnx::ModelProto model;
  model.set_ir_version(onnx::IR_VERSION);
  model.set_producer_name("kiln");
  model.set_producer_version(kVersion);
  model.add_opset_import()->set_version(kOpset);
  add_metadata(model, bundle, input);
  onnx::GraphProto& graph = *model.mutable_graph();
  graph.set_name("kiln");
  GraphBuilder g(graph);

  const std::string C = std::to_string(input.c), H = std::to_string(input.h),
                    W = std::to_string(input.w);
  std::string x;
  if (options.include_preprocessing) {
    add_io(graph.mutable_input(), "pixels", onnx::TensorProto::UINT8, {"N", H, W, C});
    std::string as_float;
    set_int(g.node("Cast", {"pixels"}, &as_float), "to", onnx::TensorProto::FLOAT);
    set_ints(g.node("Transpose", {as_float}, &x), "perm", {0, 3, 1, 2});
  } else {
    add_io(graph.mutable_input(), "pixels", onnx::TensorProto::FLOAT, {"N", C, H, W});
    x = "pixels";
  }
  x = normalize(g, bundle, input, x);
  LayerExporter layers(g);
  // Every layer's output value and its rank, in the graph's order.
  std::vector<std::string> values(net.size());
  std::vector<int> ranks(net.size(), 4);
  for (const std::size_t i : net.graph().order()) {
    std::vector<std::string> inputs;
    std::vector<nn::Shape> shapes;
    int rank = 4;
    for (const std::ptrdiff_t in : net.graph().nodes()[i].inputs) {
      const bool model_input = in == nn::LayerGraph::kModelInput;
      const auto j = static_cast<std::size_t>(in);
      inputs.push_back(model_input ? x : values[j]);
      shapes.push_back(model_input ? input : net.layer_output_shape(j));
      rank = model_input ? 4 : ranks[j];
    }
    values[i] = layers.add(net.layer(i), shapes, inputs, rank);
    ranks[i] = rank;
  }
  x = values.back();
  int rank = ranks.back();
  const nn::Shape shape = net.output_shape();
  if (rank != 2) {  // a model ending on a 4-D output: its probabilities per flattened output
    std::string flat;
    set_int(g.node("Flatten", {x}, &flat), "axis", 1);
    x = flat;
  }
  // What the outputs mean (nn/task.hpp): class probabilities (Softmax), each class's own
  // probability (Sigmoid), or the values themselves.
  const std::string task = bundle.preprocessing.value("task", "classification");
  const bool regression = task == "regression";
  const std::string output = regression ? "values" : "probabilities";
  onnx::NodeProto& last = *graph.add_node();
  last.set_op_type(regression ? "Identity" : task == "multi_label" ? "Sigmoid" : "Softmax");
  last.set_name(output);
  last.add_input(x);
  last.add_output(output);
  if (task == "classification") set_int(last, "axis", 1);
  add_io(graph.mutable_output(), output, onnx::TensorProto::FLOAT,
         {"N", std::to_string(shape.per_sample())});
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    throw Error(output_path + ": the ONNX checker rejected the export: " + e.what());
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes)) throw Error(output_path + ": could not serialize");
  write_file_atomically(output_path, bytes, "the ONNX model");
}

}  // namespace kiln::io
