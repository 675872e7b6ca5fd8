#include "nn/training/layer_profile.hpp"

#include <chrono>

#include "nn/kernels/gemm.hpp"
#include "nn/training/throughput.hpp"

namespace kiln::nn {
namespace {

double parameter_count(Layer& layer) {
  double count = 0;
  for (const Parameter* p : layer.parameters()) count += static_cast<double>(p->value.size());
  return count;
}

// The cost model of the header, for layer i at this batch size.
LayerCost cost_of(Model& model, std::size_t i, std::int64_t batch) {
  Layer& layer = model.layer(i);
  LayerCost cost;
  cost.name = model.layer_name(i);
  cost.type = std::string(layer.type());
  cost.output = model.layer_output_shape(i);
  double inputs = 0;
  bool reads_a_layer = false;
  for (const std::ptrdiff_t in : model.graph().nodes()[i].inputs) {
    const bool model_input = in == LayerGraph::kModelInput;
    reads_a_layer = reads_a_layer || !model_input;
    inputs += static_cast<double>(
        (model_input ? model.input_shape() : model.layer_output_shape(static_cast<std::size_t>(in)))
            .per_sample());
  }
  const double n = static_cast<double>(batch);
  const double output = static_cast<double>(cost.output.per_sample());
  const double params = parameter_count(layer);
  const double macs = static_cast<double>(nn::macs(layer));
  cost.forward_flops = 2 * macs * n;
  cost.backward_flops = (reads_a_layer ? 4 : 2) * macs * n;
  constexpr double kFloat = sizeof(float);
  cost.forward_bytes = kFloat * ((inputs + output) * n + params);
  cost.backward_bytes = kFloat * ((inputs * (reads_a_layer ? 2 : 1) + 2 * output) * n + 3 * params);
  return cost;
}

}  // namespace

LayerProfile profile_layers(Model& model, Optimizer& optimizer, std::int64_t batch,
                            std::uint64_t seed, int warmup, int steps) {
  SyntheticTrainingStep step(model, optimizer, batch, seed);
  for (int s = 0; s < warmup; ++s) step.train();
  LayerTimes times;
  model.time_layers(&times);
  std::vector<double> step_seconds;
  for (int s = 0; s < steps; ++s) {
    const auto start = std::chrono::steady_clock::now();
    step.train();
    step_seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  model.time_layers(nullptr);

  LayerProfile profile;
  profile.step_seconds = median(step_seconds);
  profile.gemm = gemm_kernel_name();
  for (std::size_t i = 0; i < model.size(); ++i) {
    if (model.absorbed(i)) continue;  // done by the layer before it, and timed there
    LayerCost cost = cost_of(model, i, batch);
    cost.forward_seconds = times.forward_seconds[i] / steps;
    cost.backward_seconds = times.backward_seconds[i] / steps;
    profile.layers.push_back(std::move(cost));
  }
  return profile;
}

}  // namespace kiln::nn
