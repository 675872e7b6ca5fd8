// Optimizers: update parameters from their gradients.
// Parameters are visited in the model's order and the state is flat, in that same order
// (slot-major: for each slot, one array per parameter), so a checkpoint is a list of arrays and a
// resume continues the exact same sequence of updates. Every update is element-wise, so it is
// the same whatever the thread count.
// Common option: clip_norm > 0 rescales all gradients together when their global L2 norm
// ‖g‖ = sqrt(Σ g²) exceeds it (Pascanu et al. 2013): g ← g · clip_norm / ‖g‖.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "nn/json.hpp"
#include "nn/layer.hpp"

namespace kiln::nn {

struct OptimizerState {
  std::int64_t iterations = 0;
  std::vector<std::vector<float>> slots;  // slot-major: slots[s * parameters + p]
};

class Optimizer {
 public:
  explicit Optimizer(float clip_norm);
  virtual ~Optimizer() = default;
  virtual std::string_view type() const = 0;

  // requires: the same parameter list (same order and sizes) on every call.
  // Throws kiln::Error when a loaded state does not fit the parameters.
  void step(std::span<Parameter* const> params, float learning_rate);

  OptimizerState state() const { return state_; }
  void load(const OptimizerState& state) { state_ = state; }
  Json config() const;

 protected:
  virtual std::size_t slot_count() const = 0;
  virtual Json options() const = 0;
  // One parameter's update; slots[s] is that parameter's array for slot s. t = iterations + 1.
  virtual void update(Parameter& p, std::span<float* const> slots, float learning_rate,
                      std::int64_t t) = 0;

 private:
  float clip_norm_;
  OptimizerState state_;
};

// SGD with momentum (Sutskever et al. 2013, in Keras' form):
//   v ← μ·v − lr·g;   w ← w + v                 (classic)
//   v ← μ·v − lr·g;   w ← w + μ·v − lr·g        (nesterov)
// With μ = 0 this is plain SGD: w ← w − lr·g.
// weight_decay λ > 0 adds λ·w to g first: L2 weight decay as Caffe's and PyTorch's SGD apply it,
// to every parameter (the ResNet papers' recipes), after clipping.
class Sgd final : public Optimizer {
 public:
  Sgd(float momentum, bool nesterov, float weight_decay = 0.f, float clip_norm = 0.f);
  std::string_view type() const override { return "sgd"; }

 private:
  std::size_t slot_count() const override { return 1; }
  Json options() const override;
  void update(Parameter& p, std::span<float* const> slots, float lr, std::int64_t t) override;
  float momentum_;
  bool nesterov_;
  float weight_decay_;
};

// AdaGrad (Duchi, Hazan & Singer 2011): G ← G + g²;  w ← w − lr·g / (sqrt(G) + ε).
// G starts at initial_accumulator (Keras: 0.1).
class AdaGrad final : public Optimizer {
 public:
  AdaGrad(float initial_accumulator, float epsilon, float clip_norm = 0.f);
  std::string_view type() const override { return "adagrad"; }

 private:
  std::size_t slot_count() const override { return 1; }
  Json options() const override {
    return {{"initial_accumulator", initial_}, {"epsilon", epsilon_}};
  }
  void update(Parameter& p, std::span<float* const> slots, float lr, std::int64_t t) override;
  float initial_, epsilon_;
};

// RMSProp (Tieleman & Hinton 2012, lecture 6.5): E ← ρ·E + (1 − ρ)·g²;  w ← w − lr·g / (sqrt(E) +
// ε).
class RmsProp final : public Optimizer {
 public:
  RmsProp(float rho, float epsilon, float clip_norm = 0.f);
  std::string_view type() const override { return "rmsprop"; }

 private:
  std::size_t slot_count() const override { return 1; }
  Json options() const override { return {{"rho", rho_}, {"epsilon", epsilon_}}; }
  void update(Parameter& p, std::span<float* const> slots, float lr, std::int64_t t) override;
  float rho_, epsilon_;
};

// Adam (Kingma & Ba 2015, Algorithm 1, with the full bias correction):
//   m ← β1·m + (1 − β1)·g;   v ← β2·v + (1 − β2)·g²
//   m̂ = m / (1 − β1ᵗ);       v̂ = v / (1 − β2ᵗ)
//   w ← w − lr·( m̂ / (sqrt(v̂) + ε) + λ·w )
// λ = weight_decay > 0 is AdamW (Loshchilov & Hutter 2019): decay decoupled from the gradient,
// applied to the weight before this step's update.
class Adam final : public Optimizer {
 public:
  Adam(float beta_1, float beta_2, float epsilon, float weight_decay, float clip_norm = 0.f);
  std::string_view type() const override { return weight_decay_ > 0.f ? "adamw" : "adam"; }

 private:
  std::size_t slot_count() const override { return 2; }
  Json options() const override;
  void update(Parameter& p, std::span<float* const> slots, float lr, std::int64_t t) override;
  float beta_1_, beta_2_, epsilon_, weight_decay_;
};

// Builds an optimizer from its config, e.g. {"type": "adam", "beta_1": 0.9, "clip_norm": 1.0}.
// Missing options take the defaults below (sgd momentum 0.9, adamw weight decay 0.01), else those of
// the original papers / Keras. Throws kiln::Error naming an
// unknown type or option, or a value out of range.
std::unique_ptr<Optimizer> make_optimizer(const Json& config);

// Defaults and rules make_optimizer and kiln train's config share, written once.
inline constexpr double kDefaultMomentum = 0.9;    // sgd: as Caffe's and the ResNet recipes
inline constexpr double kAdamWWeightDecay = 0.01;  // adamw: PyTorch's and Keras' default
// Whether `type` takes a weight_decay: sgd (L2 on the gradient) and adamw (decoupled).
inline bool takes_weight_decay(std::string_view type) { return type == "sgd" || type == "adamw"; }

std::vector<std::string> optimizer_types();

}  // namespace kiln::nn
