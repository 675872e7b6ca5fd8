#include "nn/init.hpp"

#include <cmath>

#include "nn/error.hpp"

namespace kiln::nn {

void check_initializer_name(const std::string& name, const std::string& owner) {
  if (name != "he_normal" && name != "glorot_uniform") {
    throw Error(owner + ": unknown init '" + name + "'; use he_normal or glorot_uniform");
  }
}

void fill_initializer(const std::string& name, std::span<float> values, std::int64_t fan_in,
                      std::int64_t fan_out, Rng& rng) {
  check_initializer_name(name, "initializer");
  if (name == "he_normal") {
    const float stddev = std::sqrt(2.0f / static_cast<float>(fan_in));
    for (float& v : values) v = rng.normal(0.f, stddev);
  } else {
    const float limit = std::sqrt(6.0f / static_cast<float>(fan_in + fan_out));
    for (float& v : values) v = rng.uniform(-limit, limit);
  }
}

}  // namespace kiln::nn
