#include <string>

#include "nn/error.hpp"
#include "nn/optimizer.hpp"
#include "nn/parallel.hpp"

namespace kiln::nn {
namespace {
constexpr std::int64_t kElementChunk = 1 << 16;
}  // namespace

// sgd
Sgd::Sgd(SgdOptions options) : options_(options) {
  if (!(options_.momentum >= 0.f && options_.momentum < 1.f)) {
    throw Error("sgd: momentum must be in [0, 1), got " + std::to_string(options_.momentum));
  }
}

void Sgd::step(std::span<Parameter* const> params, float learning_rate) {
  if (state_.slots.empty()) {
    for (const Parameter* p : params)
      state_.slots.emplace_back(static_cast<std::size_t>(p->value.size()), 0.f);
  }
  const float mu = options_.momentum;
  for (std::size_t i = 0; i < params.size(); ++i) {
    Parameter& p = *params[i];
    float* velocity = state_.slots[i].data();
    parallel_chunks(p.value.size(), kElementChunk, [&](std::int64_t e0, std::int64_t e1) {
      for (std::int64_t e = e0; e < e1; ++e) {
        const float g = p.grad[e];
        velocity[e] = mu * velocity[e] - learning_rate * g;
        p.value[e] += options_.nesterov ? mu * velocity[e] - learning_rate * g : velocity[e];
      }
    });
  }
  ++state_.iterations;
}

void Sgd::load(const OptimizerState& state) { state_ = state; }

Json Sgd::config() const {
  return {{"type", "sgd"}, {"momentum", options_.momentum}, {"nesterov", options_.nesterov}};
}

std::unique_ptr<Optimizer> make_optimizer(const Json& config) {
  const std::string type = config.value("type", std::string("sgd"));
  if (type == "sgd") {
    for (const auto& [key, value] : config.items()) {
      if (key != "type" && key != "momentum" && key != "nesterov") {
        throw Error("optimizer sgd: unknown option '" + key + "'; allowed: momentum, nesterov");
      }
    }
    SgdOptions o;
    o.momentum = config.value("momentum", 0.f);
    o.nesterov = config.value("nesterov", false);
    return std::make_unique<Sgd>(o);
  }
  throw Error("unknown optimizer '" + type + "'; known optimizers: sgd");
}

}  // namespace kiln::nn
