// Optimizer: updates parameters from their gradients. Parameters are visited in the model's order,
// and the state is flat and in that same order (one vector per slot per parameter), so a checkpoint
// is a list of arrays and a resume restores the update exactly.
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
  std::vector<std::vector<float>> slots;  // slot-major: for each slot, for each parameter
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual std::string_view type() const = 0;
  // requires: the same parameter list (same order and sizes) on every call.
  virtual void step(std::span<Parameter* const> params, float learning_rate) = 0;
  virtual OptimizerState state() const = 0;
  // Throws kiln::Error when the state does not fit the parameters it will be used with.
  virtual void load(const OptimizerState& state) = 0;
  virtual Json config() const = 0;
};

// SGD with momentum (Sutskever et al. 2013, in Keras' form):
//   v ← μ·v − lr·g;   w ← w + v                 (classic)
//   v ← μ·v − lr·g;   w ← w + μ·v − lr·g        (nesterov)
// With μ = 0 this is plain SGD: w ← w − lr·g.
struct SgdOptions {
  float momentum = 0.f;  // in [0, 1)
  bool nesterov = false;
};

class Sgd final : public Optimizer {
 public:
  explicit Sgd(SgdOptions options);
  std::string_view type() const override { return "sgd"; }
  void step(std::span<Parameter* const> params, float learning_rate) override;
  OptimizerState state() const override { return state_; }
  void load(const OptimizerState& state) override;
  Json config() const override;

 private:
  SgdOptions options_;
  OptimizerState state_;  // slots: the velocity of each parameter (empty until the first step)
};

// Builds an optimizer from {"type": "sgd", "momentum": 0.9, "nesterov": false}.
std::unique_ptr<Optimizer> make_optimizer(const Json& config);

}  // namespace kiln::nn
