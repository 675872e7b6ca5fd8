#include "nn/model.hpp"

#include <cstdio>

#include "nn/error.hpp"
#include "nn/layers/registry.hpp"

namespace kiln::nn {

Sequential Sequential::from_config(const Json& config) {
  if (!config.is_object() || !config.contains("input") || !config.contains("layers")) {
    throw Error("model config must be an object with \"input\": [C, H, W] and \"layers\": [...]");
  }
  const Json& input = config.at("input");
  if (!input.is_array() || input.size() != 3) {
    throw Error("model config: \"input\" must be [C, H, W], got " + input.dump());
  }
  Sequential model;
  model.input_ = {1, input[0].get<std::int64_t>(), input[1].get<std::int64_t>(),
                  input[2].get<std::int64_t>()};
  if (model.input_.c <= 0 || model.input_.h <= 0 || model.input_.w <= 0) {
    throw Error("model config: \"input\" dimensions must be positive, got " + input.dump());
  }
  Shape shape = model.input_;
  for (const Json& entry : config.at("layers")) {
    if (!entry.is_object() || !entry.contains("type")) {
      throw Error("model config: every layer needs a \"type\", got " + entry.dump());
    }
    Json options = entry;
    options.erase("type");
    auto layer = make_layer(entry.at("type").get<std::string>(), options);
    shape = layer->build(shape);
    model.output_shapes_.push_back(shape);
    model.layers_.push_back(std::move(layer));
  }
  if (model.layers_.empty()) throw Error("model config: \"layers\" is empty");
  model.output_ = shape;
  model.activations_.resize(model.layers_.size());
  model.gradients_.resize(2);
  model.absorbed_.assign(model.layers_.size(), false);
  model.output_of_.resize(model.layers_.size());
  for (std::size_t i = 0; i < model.layers_.size(); ++i) {
    model.absorbed_[i] = i > 0 && model.layers_[i]->type() == "relu" && !model.absorbed_[i - 1] &&
                         model.layers_[i - 1]->absorb_relu();
    model.output_of_[i] = model.absorbed_[i] ? model.output_of_[i - 1] : i;
  }
  return model;
}

Json Sequential::config() const {
  Json layers = Json::array();
  for (const auto& layer : layers_) {
    Json entry = {{"type", std::string(layer->type())}};
    entry.update(layer->config());
    layers.push_back(entry);
  }
  return {{"input", {input_.c, input_.h, input_.w}}, {"layers", layers}};
}

void Sequential::initialize(std::uint64_t seed) {
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    Rng rng({seed, 0, i, kSlotInit});
    layers_[i]->initialize(rng);
  }
}

const Tensor& Sequential::forward(const Tensor& x, const StepContext& ctx) {
  if (x.shape().with_n(1) != input_) {
    throw Error("input batch has per-sample shape " + x.shape().with_n(1).str() +
                " but the model expects " + input_.str());
  }
  const Tensor* in = &x;
  StepContext layer_ctx = ctx;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    if (absorbed_[i]) continue;  // done by layer i - 1
    layer_ctx.layer = static_cast<std::uint32_t>(i);
    layers_[i]->forward(*in, activations_[i], layer_ctx);
    in = &activations_[i];
  }
  return activations_[output_of_.back()];
}

void Sequential::backward(const Tensor& x, const Tensor& doutput) {
  const Tensor* dy = &doutput;
  for (std::size_t i = layers_.size(); i-- > 0;) {
    if (absorbed_[i]) continue;  // layer i - 1 masks dy itself
    if (i == 0) {
      layers_[0]->backward_parameters(x, activations_[0], *dy);
      break;
    }
    // The buffer dy is not in (skipped layers would break an i % 2 alternation).
    Tensor& dx = dy == &gradients_[0] ? gradients_[1] : gradients_[0];
    layers_[i]->backward(activations_[output_of_[i - 1]], activations_[i], *dy, dx);
    dy = &dx;
  }
}

std::vector<Parameter*> Sequential::parameters() {
  std::vector<Parameter*> all;
  for (auto& layer : layers_) {
    for (Parameter* p : layer->parameters()) all.push_back(p);
  }
  return all;
}

void Sequential::zero_grad() {
  for (Parameter* p : parameters()) p->grad.fill(0.f);
}

double Sequential::regularization_penalty() {
  double total = 0.0;
  for (Parameter* p : parameters()) total += nn::regularization_penalty(*p);
  return total;
}

void Sequential::add_regularization_gradients() {
  for (Parameter* p : parameters()) add_regularization_gradient(*p);
}

void Sequential::apply_constraints() {
  for (Parameter* p : parameters()) apply_max_norm(*p);
}

std::int64_t Sequential::parameter_count() {
  std::int64_t total = 0;
  for (Parameter* p : parameters()) total += p->value.size();
  return total;
}

std::string Sequential::summary() {
  std::string out;
  char line[160];
  std::snprintf(line, sizeof line, "%-20s %-22s %12s\n", "Layer (type)", "Output shape", "Param #");
  out += line;
  out += std::string(56, '-') + "\n";
  std::int64_t total = 0;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    std::int64_t count = 0;
    for (Parameter* p : layers_[i]->parameters()) count += p->value.size();
    total += count;
    const Shape& s = output_shapes_[i];
    const std::string shape =
        "(" + std::to_string(s.c) + ", " + std::to_string(s.h) + ", " + std::to_string(s.w) + ")";
    const std::string name = std::to_string(i) + "_" + std::string(layers_[i]->type());
    std::snprintf(line, sizeof line, "%-20s %-22s %12lld\n", name.c_str(), shape.c_str(),
                  static_cast<long long>(count));
    out += line;
  }
  out += std::string(56, '-') + "\n";
  out += "Total params: " + std::to_string(total) + "\n";
  return out;
}

}  // namespace kiln::nn
