#include "nn/training/regularizer.hpp"

#include <cmath>

#include "nn/error.hpp"
#include "nn/layer.hpp"

namespace kiln::nn {

Json Regularization::to_json() const {
  Json j = Json::object();
  if (l1 > 0.f) j["l1"] = l1;
  if (l2 > 0.f) j["l2"] = l2;
  if (max_norm > 0.f) j["max_norm"] = max_norm;
  return j;
}

Regularization Regularization::from_json(const Json& json, const std::string& owner) {
  if (!json.is_object())
    throw Error(owner + ": a regularizer is {\"l1\": a, \"l2\": b, \"max_norm\": c}, got " +
                json.dump());
  Regularization r;
  for (const auto& [key, value] : json.items()) {
    if (!value.is_number() || value.get<double>() < 0) {
      throw Error(owner + ": regularizer '" + key + "' must be a number >= 0, got " + value.dump());
    }
    if (key == "l1") {
      r.l1 = value.get<float>();
    } else if (key == "l2") {
      r.l2 = value.get<float>();
    } else if (key == "max_norm") {
      r.max_norm = value.get<float>();
    } else {
      throw Error(owner + ": unknown regularizer '" + key + "'; allowed: l1, l2, max_norm");
    }
  }
  return r;
}

double regularization_penalty(const Parameter& p) {
  const Regularization& r = p.regularization;
  if (r.l1 == 0.f && r.l2 == 0.f) return 0.0;
  double l1 = 0.0, l2 = 0.0;
  for (float w : p.value.span()) {
    l1 += std::abs(w);
    l2 += static_cast<double>(w) * w;
  }
  return r.l1 * l1 + r.l2 * l2;
}

void add_regularization_gradient(Parameter& p) {
  const Regularization& r = p.regularization;
  if (r.l1 == 0.f && r.l2 == 0.f) return;
  for (std::int64_t i = 0; i < p.value.size(); ++i) {
    const float w = p.value[i];
    p.grad[i] += r.l1 * static_cast<float>((w > 0.f) - (w < 0.f)) + 2.f * r.l2 * w;
  }
}

void apply_max_norm(Parameter& p) {
  const float limit = p.regularization.max_norm;
  if (limit <= 0.f) return;
  const std::int64_t slices = p.value.shape().n, per_slice = p.value.shape().per_sample();
  for (std::int64_t s = 0; s < slices; ++s) {
    float* w = p.value.data() + s * per_slice;
    double sum = 0.0;
    for (std::int64_t i = 0; i < per_slice; ++i) sum += static_cast<double>(w[i]) * w[i];
    const double norm = std::sqrt(sum);
    if (norm > limit) {
      const auto scale = static_cast<float>(limit / norm);
      for (std::int64_t i = 0; i < per_slice; ++i) w[i] *= scale;
    }
  }
}

}  // namespace kiln::nn
