#include "nn/model/model.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "nn/error.hpp"
#include "nn/layers/registry.hpp"
#include "nn/model/blocks.hpp"
#include "nn/parallel.hpp"

namespace kiln::nn {
namespace {

void add_into(Tensor& sum, const Tensor& term) {
  float* out = sum.data();
  const float* in = term.data();
  parallel_chunks(sum.size(), 1 << 14, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) out[i] += in[i];
  });
}

bool has_parameters(Layer& layer) { return !layer.parameters().empty(); }

// Adds the seconds from its construction to its destruction to *total, when total is set.
class StopWatch {
 public:
  explicit StopWatch(double* total)
      : total_(total), start_(total ? Clock::now() : Clock::time_point{}) {}
  ~StopWatch() {
    if (total_) *total_ += std::chrono::duration<double>(Clock::now() - start_).count();
  }
  StopWatch(const StopWatch&) = delete;
  StopWatch& operator=(const StopWatch&) = delete;

 private:
  using Clock = std::chrono::steady_clock;
  double* total_;
  Clock::time_point start_;
};

}  // namespace

Model Model::from_config(const Json& config) {
  if (!config.is_object() || !config.contains("input") || !config.contains("layers")) {
    throw Error("model config must be an object with \"input\": [C, H, W] and \"layers\": [...]");
  }
  const Json& input = config.at("input");
  if (!input.is_array() || input.size() != 3 || !input[0].is_number_integer() ||
      !input[1].is_number_integer() || !input[2].is_number_integer()) {
    throw Error("model config: \"input\" must be [C, H, W], got " + input.dump());
  }
  Model model;
  model.input_ = {1, input[0].get<std::int64_t>(), input[1].get<std::int64_t>(),
                  input[2].get<std::int64_t>()};
  if (model.input_.c <= 0 || model.input_.h <= 0 || model.input_.w <= 0) {
    throw Error("model config: \"input\" dimensions must be positive, got " + input.dump());
  }
  model.graph_ = LayerGraph::parse(expand_blocks(config.at("layers"), model.input_));
  model.build_layers();
  model.plan_relu_absorption();
  model.plan_channel_maps();
  return model;
}

// Every layer is made and built in the graph's order, so a layer's input shapes are known.
void Model::build_layers() {
  const auto& nodes = graph_.nodes();
  layers_.resize(nodes.size());
  output_shapes_.resize(nodes.size());
  for (const std::size_t i : graph_.order()) {
    const GraphNode& node = nodes[i];
    try {
      layers_[i] = make_layer(node.type, node.options);
      std::vector<Shape> shapes;
      for (const std::ptrdiff_t in : node.inputs) {
        shapes.push_back(
            in == LayerGraph::kModelInput ? input_ : output_shapes_[static_cast<std::size_t>(in)]);
      }
      if (auto* join = dynamic_cast<JoinLayer*>(layers_[i].get())) {
        output_shapes_[i] = join->build_join(shapes);
      } else if (shapes.size() != 1) {
        throw Error(node.type + " takes one input, got " + std::to_string(shapes.size()));
      } else {
        output_shapes_[i] = layers_[i]->build(shapes[0]);
      }
    } catch (const Error& e) {
      throw Error("model config: " + graph_.describe(i) + ": " + e.what());
    }
  }
  output_ = output_shapes_.back();
  activations_.resize(nodes.size());
  gradient_of_.assign(nodes.size(), nullptr);
  needs_gradient_.assign(nodes.size(), false);
  for (const std::size_t i : graph_.order()) {
    bool needs = nodes[i].trainable && has_parameters(*layers_[i]);
    for (const std::ptrdiff_t in : nodes[i].inputs) {
      needs =
          needs || (in != LayerGraph::kModelInput && needs_gradient_[static_cast<std::size_t>(in)]);
    }
    needs_gradient_[i] = needs;
  }
}

// A ReLU whose input layer can rectify its own output, and is read by nothing else, is done by
// that layer (FusesRelu). With a second reader the unrectified output must stay.
void Model::plan_relu_absorption() {
  const auto& nodes = graph_.nodes();
  absorbed_.assign(nodes.size(), false);
  output_of_.resize(nodes.size());
  for (const std::size_t i : graph_.order()) {
    output_of_[i] = i;
    const std::ptrdiff_t in = nodes[i].inputs.front();
    const bool relu = nodes[i].type == "relu", relu6 = nodes[i].type == "relu6";
    if (!(relu || relu6) || in == LayerGraph::kModelInput) continue;
    const auto p = static_cast<std::size_t>(in);
    if (absorbed_[p] || graph_.consumers()[p].size() != 1) continue;
    if (relu ? nn::absorb_relu(*layers_[p]) : nn::absorb_relu6(*layers_[p])) {
      absorbed_[i] = true;
      output_of_[i] = output_of_[p];
    }
  }
}

// A batch norm read from a layer that can apply it (AppliesChannelMap) and that nothing else
// reads: in output-only forwards that layer applies it (after any ReLU absorption, so a norm
// with its ReLU goes whole).
void Model::plan_channel_maps() {
  const auto& nodes = graph_.nodes();
  mapped_by_.assign(nodes.size(), -1);
  map_of_.assign(nodes.size(), -1);
  mapped_output_of_ = output_of_;
  for (const std::size_t i : graph_.order()) {
    const std::ptrdiff_t in = nodes[i].inputs.front();
    if (in == LayerGraph::kModelInput || absorbed_[i]) continue;
    if (dynamic_cast<EvaluatesAsChannelMap*>(layers_[i].get()) == nullptr) continue;
    const auto p = static_cast<std::size_t>(in);
    auto* applies = dynamic_cast<AppliesChannelMap*>(layers_[p].get());
    if (applies == nullptr || !applies->can_apply_channel_map() || absorbed_[p] ||
        graph_.consumers()[p].size() != 1 || map_of_[p] >= 0)
      continue;
    mapped_by_[i] = in;
    map_of_[p] = static_cast<std::ptrdiff_t>(i);
    for (std::size_t& o : mapped_output_of_)
      if (o == i) o = p;
  }
}

Json Model::config() const {
  Json layers = Json::array();
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    layers.push_back(graph_.entry(i, layers_[i]->config()));
  }
  return {{"input", {input_.c, input_.h, input_.w}}, {"layers", layers}};
}

void Model::initialize(std::uint64_t seed) {
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    Rng rng({seed, 0, i, kSlotInit});
    layers_[i]->initialize(rng);
  }
}

const Tensor& Model::input_of(const Tensor& x, std::ptrdiff_t in) const {
  return in == LayerGraph::kModelInput ? x : activations_[outputs()[static_cast<std::size_t>(in)]];
}

const Tensor& Model::forward(const Tensor& x, const StepContext& ctx) {
  if (x.shape().with_n(1) != input_) {
    throw Error("input batch has per-sample shape " + x.shape().with_n(1).str() +
                " but the model expects " + input_.str());
  }
  StepContext layer_ctx = ctx;
  mapped_forward_ = ctx.mode == Mode::kEval && ctx.output_only;
  for (const std::size_t i : graph_.order()) {
    if (absorbed_[i]) continue;                           // done by its input layer
    if (mapped_forward_ && mapped_by_[i] >= 0) continue;  // likewise
    const GraphNode& node = graph_.nodes()[i];
    layer_ctx.layer = static_cast<std::uint32_t>(i);
    layer_ctx.mode = node.trainable ? ctx.mode : Mode::kEval;
    const StopWatch watch(times_ ? &times_->forward_seconds[i] : nullptr);
    if (auto* join = dynamic_cast<JoinLayer*>(layers_[i].get())) {
      std::vector<const Tensor*> xs;
      for (const std::ptrdiff_t in : node.inputs) xs.push_back(&input_of(x, in));
      join->forward_join(xs, activations_[i]);
    } else if (mapped_forward_ && map_of_[i] >= 0) {
      auto& norm =
          dynamic_cast<EvaluatesAsChannelMap&>(*layers_[static_cast<std::size_t>(map_of_[i])]);
      dynamic_cast<AppliesChannelMap&>(*layers_[i])
          .forward_mapped(input_of(x, node.inputs.front()), activations_[i], layer_ctx,
                          norm.eval_map());
    } else {
      layers_[i]->forward(input_of(x, node.inputs.front()), activations_[i], layer_ctx);
    }
  }
  return activations_[outputs().back()];
}

Tensor* Model::take_gradient_buffer() {
  if (free_gradients_.empty()) {
    gradient_pool_.push_back(std::make_unique<Tensor>());
    free_gradients_.push_back(gradient_pool_.back().get());
  }
  Tensor* buffer = free_gradients_.back();
  free_gradients_.pop_back();
  return buffer;
}

void Model::backward(const Tensor& x, const Tensor& doutput) {
  if (mapped_forward_) {
    throw Error("model: backward() after an output-only forward (StepContext::output_only)");
  }
  const std::vector<std::size_t>& order = graph_.order();
  const std::size_t output = output_of_[order.back()];
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const std::size_t i = *it;
    // An absorbed ReLU's gradient is its input layer's: that layer masks dy itself.
    if (absorbed_[i] || !needs_gradient_[i]) continue;
    const StopWatch watch(times_ ? &times_->backward_seconds[i] : nullptr);
    const Tensor& dy = i == output ? doutput : *gradient_of_[i];
    const GraphNode& node = graph_.nodes()[i];
    auto* join = dynamic_cast<JoinLayer*>(layers_[i].get());
    std::vector<const Tensor*> xs;
    for (const std::ptrdiff_t in : node.inputs) xs.push_back(&input_of(x, in));
    bool input_gradient_needed = false;
    for (std::size_t k = 0; k < node.inputs.size(); ++k) {
      const std::ptrdiff_t in = node.inputs[k];
      if (in == LayerGraph::kModelInput) continue;
      const std::size_t target = output_of_[static_cast<std::size_t>(in)];
      if (!needs_gradient_[target]) continue;
      input_gradient_needed = true;
      // The first reader to get here assigns the gradient; later ones add theirs.
      Tensor* sum = gradient_of_[target];
      Tensor& dx = sum ? scratch_ : *(gradient_of_[target] = take_gradient_buffer());
      if (join) {
        join->backward_join(k, xs, activations_[i], dy, dx);
      } else {
        layers_[i]->backward(*xs[0], activations_[i], dy, dx);
      }
      if (sum) add_into(*sum, dx);
    }
    if (!input_gradient_needed && node.trainable && !join) {
      nn::backward_parameters(*layers_[i], *xs[0], activations_[i], dy);
    }
    if (gradient_of_[i]) {
      free_gradients_.push_back(gradient_of_[i]);
      gradient_of_[i] = nullptr;
    }
  }
}

std::vector<Parameter*> Model::parameters() {
  std::vector<Parameter*> all;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    if (!trainable(i)) continue;
    for (Parameter* p : layers_[i]->parameters()) all.push_back(p);
  }
  return all;
}

std::vector<Tensor*> Model::state_tensors() {
  std::vector<Tensor*> all;
  for (const auto& layer : layers_) {
    for (Parameter* p : layer->parameters()) all.push_back(&p->value);
    for (Buffer* b : layer->buffers()) all.push_back(&b->value);
  }
  return all;
}

std::vector<double> Model::batch_statistics() const {
  std::vector<double> all;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    if (!trainable(i) || nn::batch_statistics_size(*layers_[i]) == 0) continue;
    const std::vector<double> mine = nn::batch_statistics(*layers_[i]);
    if (mine.size() != nn::batch_statistics_size(*layers_[i])) {
      throw Error("layer " + layer_name(i) +
                  " has no batch statistics: its last forward did not train");
    }
    all.insert(all.end(), mine.begin(), mine.end());
  }
  return all;
}

void Model::fold_batch_statistics(std::span<const double> statistics) {
  std::size_t at = 0;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const std::size_t count = trainable(i) ? nn::batch_statistics_size(*layers_[i]) : 0;
    if (count == 0) continue;
    if (at + count > statistics.size()) throw Error("too few batch statistics for the model");
    nn::fold_batch_statistics(*layers_[i], statistics.subspan(at, count));
    at += count;
  }
  if (at != statistics.size()) throw Error("too many batch statistics for the model");
}

void Model::zero_grad() {
  for (Parameter* p : parameters()) p->grad.fill(0.f);
}

double Model::regularization_penalty() {
  double total = 0.0;
  for (Parameter* p : parameters()) total += nn::regularization_penalty(*p);
  return total;
}

void Model::add_regularization_gradients() {
  for (Parameter* p : parameters()) add_regularization_gradient(*p);
}

void Model::apply_constraints() {
  for (Parameter* p : parameters()) apply_max_norm(*p);
}

std::int64_t Model::parameter_count() {
  std::int64_t total = 0;
  for (auto& layer : layers_) {
    for (Parameter* p : layer->parameters()) total += p->value.size();
  }
  return total;
}

void Model::time_layers(LayerTimes* times) {
  times_ = times;
  if (!times_) return;
  times_->forward_seconds.resize(layers_.size(), 0.0);
  times_->backward_seconds.resize(layers_.size(), 0.0);
}

const Tensor& Model::layer_output(std::size_t i) const {
  if (mapped_forward_) {
    throw Error("model: layer outputs are not kept by an output-only forward (StepContext)");
  }
  return activations_[output_of_[i]];
}

bool Model::applies_next_relu(std::size_t i) const {
  for (std::size_t j = i + 1; j < layers_.size(); ++j) {
    if (absorbed_[j] && output_of_[j] == i) return true;
  }
  return false;
}

std::string Model::summary() {
  const bool chain = graph_.is_chain();
  std::vector<std::string> names(layers_.size());
  std::size_t name_width = 24;  // the column fits the longest "name (type)"
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    names[i] =
        layer_name(i) + " (" + std::string(layers_[i]->type()) + ")" + (trainable(i) ? "" : " *");
    name_width = std::max(name_width, names[i].size());
  }
  const int w = static_cast<int>(name_width);
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-*s %-16s %10s%s\n", w, "Layer (type)", "Output shape",
                "Param #", chain ? "" : "  Connected to");
  out += line;
  const std::size_t rule = name_width + 28 + (chain ? 0 : 24);
  out += std::string(rule, '-') + "\n";
  std::int64_t total = 0, frozen = 0;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    std::int64_t count = 0;
    for (Parameter* p : layers_[i]->parameters()) count += p->value.size();
    total += count;
    if (!trainable(i)) frozen += count;
    const Shape& s = output_shapes_[i];
    const std::string shape =
        "(" + std::to_string(s.c) + ", " + std::to_string(s.h) + ", " + std::to_string(s.w) + ")";
    std::string inputs;
    for (const std::ptrdiff_t in : graph_.nodes()[i].inputs) {
      inputs += (inputs.empty() ? "" : ", ") + (in == LayerGraph::kModelInput
                                                    ? std::string("input")
                                                    : layer_name(static_cast<std::size_t>(in)));
    }
    std::snprintf(line, sizeof line, "%-*s %-16s %10lld%s%s\n", w, names[i].c_str(), shape.c_str(),
                  static_cast<long long>(count), chain ? "" : "  ", chain ? "" : inputs.c_str());
    out += line;
  }
  out += std::string(rule, '-') + "\n";
  out += "Total params: " + std::to_string(total) + "\n";
  if (frozen > 0) {
    out += "Frozen params (*): " + std::to_string(frozen) +
           ", trainable: " + std::to_string(total - frozen) + "\n";
  }
  return out;
}

}  // namespace kiln::nn
