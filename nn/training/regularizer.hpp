// Regularization of one parameter, with Keras' semantics:
//   penalty  = l1·Σ|w| + l2·Σw²   is added to the reported training loss;
//   gradient = l1·sign(w) + 2·l2·w is added to the parameter's gradient before the optimizer step;
//   max_norm > 0: after each step, every slice along the first dimension (a dense unit's incoming
//   weights, a convolution filter) whose L2 norm exceeds max_norm is scaled back to it
//   (Srivastava et al. 2014, used with dropout).
// Sums run in a fixed order in double: the same on any thread count.
#pragma once

#include "nn/json.hpp"

namespace kiln::nn {

struct Parameter;

struct Regularization {
  float l1 = 0.f;
  float l2 = 0.f;
  float max_norm = 0.f;  // 0: no constraint

  bool active() const { return l1 > 0.f || l2 > 0.f || max_norm > 0.f; }
  Json to_json() const;
  // From {"l1": a, "l2": b, "max_norm": c}; throws kiln::Error naming `owner` on unknown keys or
  // negative values.
  static Regularization from_json(const Json& json, const std::string& owner);
};

double regularization_penalty(const Parameter& p);
void add_regularization_gradient(Parameter& p);
void apply_max_norm(Parameter& p);

}  // namespace kiln::nn
