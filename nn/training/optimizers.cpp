#include <cmath>
#include <set>
#include <string>

#include "nn/error.hpp"
#include "nn/parallel.hpp"
#include "nn/training/optimizer.hpp"

namespace kiln::nn {
namespace {

constexpr std::int64_t kElementChunk = 1 << 16;

void require(bool ok, const std::string& message) {
  if (!ok) throw Error(message);
}

// Global L2 norm of all gradients, summed in parameter order in double: the same on any thread
// count.
double gradient_norm(std::span<Parameter* const> params) {
  double sum = 0.0;
  for (const Parameter* p : params) {
    for (float g : p->grad.span()) sum += static_cast<double>(g) * g;
  }
  return std::sqrt(sum);
}

}  // namespace

// Optimizer: clipping, state layout and the loop over parameters.

Optimizer::Optimizer(float clip_norm) : clip_norm_(clip_norm) {
  require(clip_norm_ >= 0.f,
          "optimizer: clip_norm must be >= 0 (0: off), got " + std::to_string(clip_norm_));
}

void Optimizer::step(std::span<Parameter* const> params, float learning_rate) {
  const std::size_t slots = slot_count();
  if (state_.slots.empty()) {
    for (std::size_t s = 0; s < slots; ++s) {
      for (const Parameter* p : params)
        state_.slots.emplace_back(static_cast<std::size_t>(p->value.size()), 0.f);
    }
  }
  if (state_.slots.size() != slots * params.size()) {
    throw Error(std::string(type()) + ": the optimizer state holds " +
                std::to_string(state_.slots.size()) + " arrays but the model needs " +
                std::to_string(slots * params.size()) +
                "; it belongs to another model or optimizer");
  }
  if (clip_norm_ > 0.f) {
    const double norm = gradient_norm(params);
    if (norm > clip_norm_) {
      const auto scale = static_cast<float>(clip_norm_ / norm);
      for (Parameter* p : params) {
        for (float& g : p->grad.span()) g *= scale;
      }
    }
  }
  const std::int64_t t = state_.iterations + 1;
  std::vector<float*> views(slots);
  for (std::size_t i = 0; i < params.size(); ++i) {
    for (std::size_t s = 0; s < slots; ++s) {
      auto& array = state_.slots[s * params.size() + i];
      if (static_cast<std::int64_t>(array.size()) != params[i]->value.size()) {
        throw Error(std::string(type()) + ": optimizer state array " +
                    std::to_string(s * params.size() + i) + " does not match parameter '" +
                    params[i]->name + "'; it belongs to another model");
      }
      views[s] = array.data();
    }
    update(*params[i], views, learning_rate, t);
  }
  state_.iterations = t;
}

Json Optimizer::config() const {
  Json j = options();
  j["type"] = std::string(type());
  j["clip_norm"] = clip_norm_;
  return j;
}

// sgd

Sgd::Sgd(float momentum, bool nesterov, float weight_decay, float clip_norm)
    : Optimizer(clip_norm), momentum_(momentum), nesterov_(nesterov), weight_decay_(weight_decay) {
  require(momentum_ >= 0.f && momentum_ < 1.f,
          "sgd: momentum must be in [0, 1), got " + std::to_string(momentum_));
  require(weight_decay_ >= 0.f,
          "sgd: weight_decay must be >= 0, got " + std::to_string(weight_decay_));
}

Json Sgd::options() const {
  Json j = {{"momentum", momentum_}, {"nesterov", nesterov_}};
  if (weight_decay_ > 0.f) j["weight_decay"] = weight_decay_;
  return j;
}

void Sgd::update(Parameter& p, std::span<float* const> slots, float lr, std::int64_t /*t*/) {
  float* velocity = slots[0];
  const float mu = momentum_;
  const float decay = p.decays ? weight_decay_ : 0.f;
  parallel_chunks(p.value.size(), kElementChunk, [&](std::int64_t e0, std::int64_t e1) {
    for (std::int64_t e = e0; e < e1; ++e) {
      const float g = p.grad[e] + decay * p.value[e];
      velocity[e] = mu * velocity[e] - lr * g;
      p.value[e] += nesterov_ ? mu * velocity[e] - lr * g : velocity[e];
    }
  });
}

// adagrad

AdaGrad::AdaGrad(float initial_accumulator, float epsilon, float clip_norm)
    : Optimizer(clip_norm), initial_(initial_accumulator), epsilon_(epsilon) {
  require(initial_ >= 0.f, "adagrad: initial_accumulator must be >= 0");
  require(epsilon_ > 0.f, "adagrad: epsilon must be > 0");
}

void AdaGrad::update(Parameter& p, std::span<float* const> slots, float lr, std::int64_t t) {
  float* accumulator = slots[0];
  parallel_chunks(p.value.size(), kElementChunk, [&](std::int64_t e0, std::int64_t e1) {
    for (std::int64_t e = e0; e < e1; ++e) {
      if (t == 1) accumulator[e] = initial_;
      const float g = p.grad[e];
      accumulator[e] += g * g;
      p.value[e] -= lr * g / (std::sqrt(accumulator[e]) + epsilon_);
    }
  });
}

// rmsprop

RmsProp::RmsProp(float rho, float epsilon, float clip_norm)
    : Optimizer(clip_norm), rho_(rho), epsilon_(epsilon) {
  require(rho_ >= 0.f && rho_ < 1.f, "rmsprop: rho must be in [0, 1), got " + std::to_string(rho_));
  require(epsilon_ > 0.f, "rmsprop: epsilon must be > 0");
}

void RmsProp::update(Parameter& p, std::span<float* const> slots, float lr, std::int64_t /*t*/) {
  float* mean_square = slots[0];
  parallel_chunks(p.value.size(), kElementChunk, [&](std::int64_t e0, std::int64_t e1) {
    for (std::int64_t e = e0; e < e1; ++e) {
      const float g = p.grad[e];
      mean_square[e] = rho_ * mean_square[e] + (1.f - rho_) * g * g;
      p.value[e] -= lr * g / (std::sqrt(mean_square[e]) + epsilon_);
    }
  });
}

// adam, adamw

Adam::Adam(float beta_1, float beta_2, float epsilon, float weight_decay, float clip_norm)
    : Optimizer(clip_norm),
      beta_1_(beta_1),
      beta_2_(beta_2),
      epsilon_(epsilon),
      weight_decay_(weight_decay) {
  require(beta_1_ >= 0.f && beta_1_ < 1.f,
          "adam: beta_1 must be in [0, 1), got " + std::to_string(beta_1_));
  require(beta_2_ >= 0.f && beta_2_ < 1.f,
          "adam: beta_2 must be in [0, 1), got " + std::to_string(beta_2_));
  require(epsilon_ > 0.f, "adam: epsilon must be > 0");
  require(weight_decay_ >= 0.f, "adam: weight_decay must be >= 0");
}

Json Adam::options() const {
  return {{"beta_1", beta_1_},
          {"beta_2", beta_2_},
          {"epsilon", epsilon_},
          {"weight_decay", weight_decay_}};
}

void Adam::update(Parameter& p, std::span<float* const> slots, float lr, std::int64_t t) {
  float* m = slots[0];
  float* v = slots[1];
  // Bias corrections in double: β2ᵗ underflows float precision long before training ends.
  const auto correction_1 =
      static_cast<float>(1.0 - std::pow(static_cast<double>(beta_1_), static_cast<double>(t)));
  const auto correction_2 =
      static_cast<float>(1.0 - std::pow(static_cast<double>(beta_2_), static_cast<double>(t)));
  const float decay = p.decays ? weight_decay_ : 0.f;
  parallel_chunks(p.value.size(), kElementChunk, [&](std::int64_t e0, std::int64_t e1) {
    for (std::int64_t e = e0; e < e1; ++e) {
      const float g = p.grad[e];
      m[e] = beta_1_ * m[e] + (1.f - beta_1_) * g;
      v[e] = beta_2_ * v[e] + (1.f - beta_2_) * g * g;
      const float m_hat = m[e] / correction_1;
      const float v_hat = v[e] / correction_2;
      p.value[e] -= lr * (m_hat / (std::sqrt(v_hat) + epsilon_) + decay * p.value[e]);
    }
  });
}

// make_optimizer: the one list of optimizers.

std::vector<std::string> optimizer_types() {
  return {"sgd", "adagrad", "rmsprop", "adam", "adamw"};
}

std::unique_ptr<Optimizer> make_optimizer(const Json& config) {
  if (!config.is_object())
    throw Error("optimizer: config must be a JSON object, got " + config.dump());
  const std::string type = config.value("type", std::string("sgd"));
  auto allowed = [&](std::set<std::string> keys) {
    keys.insert("type");
    keys.insert("clip_norm");
    for (const auto& [key, value] : config.items()) {
      if (!keys.contains(key)) {
        std::string names;
        for (const auto& k : keys) names += (names.empty() ? "" : ", ") + k;
        throw Error("optimizer " + type + ": unknown option '" + key + "'; allowed: " + names);
      }
    }
  };
  auto number = [&](const char* key, float fallback) {
    if (!config.contains(key)) return fallback;
    if (!config.at(key).is_number())
      throw Error("optimizer " + type + ": " + key + " must be a number");
    return config.at(key).get<float>();
  };
  const float clip = number("clip_norm", 0.f);
  if (type == "sgd") {
    allowed({"momentum", "nesterov", "weight_decay"});
    return std::make_unique<Sgd>(number("momentum", static_cast<float>(kDefaultMomentum)),
                                 config.value("nesterov", false), number("weight_decay", 0.f),
                                 clip);
  }
  if (type == "adagrad") {
    allowed({"initial_accumulator", "epsilon"});
    return std::make_unique<AdaGrad>(number("initial_accumulator", 0.1f), number("epsilon", 1e-7f),
                                     clip);
  }
  if (type == "rmsprop") {
    allowed({"rho", "epsilon"});
    return std::make_unique<RmsProp>(number("rho", 0.9f), number("epsilon", 1e-7f), clip);
  }
  if (type == "adam" || type == "adamw") {
    allowed({"beta_1", "beta_2", "epsilon", "weight_decay"});
    const float decay =
        number("weight_decay", type == "adamw" ? static_cast<float>(kAdamWWeightDecay) : 0.f);
    if (type == "adamw" && !(decay > 0.f)) throw Error("optimizer adamw: weight_decay must be > 0");
    if (type == "adam" && decay != 0.f) {
      throw Error("optimizer adam: weight_decay is AdamW's option; use \"type\": \"adamw\"");
    }
    return std::make_unique<Adam>(number("beta_1", 0.9f), number("beta_2", 0.999f),
                                  number("epsilon", 1e-8f), decay, clip);
  }
  std::string names;
  for (const auto& n : optimizer_types()) names += (names.empty() ? "" : ", ") + n;
  throw Error("unknown optimizer '" + type + "'; known optimizers: " + names);
}

}  // namespace kiln::nn
