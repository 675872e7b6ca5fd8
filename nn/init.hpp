// Weight initializers, keyed by the model as (run seed, 0, layer position, kSlotInit).
//   he_normal:      N(0, sqrt(2 / fan_in))                      (He et al. 2015)
//   glorot_uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out))  (Glorot & Bengio 2010, Keras
//   default)
// For a dense layer fan_in = inputs per unit and fan_out = units.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "nn/random.hpp"

namespace kiln::nn {

// Throws kiln::Error naming `owner` and the allowed names when `name` is not an initializer.
void check_initializer_name(const std::string& name, const std::string& owner);

void fill_initializer(const std::string& name, std::span<float> values, std::int64_t fan_in,
                      std::int64_t fan_out, Rng& rng);

}  // namespace kiln::nn
