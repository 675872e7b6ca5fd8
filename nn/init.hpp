// Weight initializers. Each layer draws from Rng{run seed, 0, layer position, kSlotInit}.
// clang-format off
//   zeros            w = 0
//   constant         w = value
//   normal           N(0, 0.01)                                 (the "small normal" of AlexNet/Caffe)
//   glorot_uniform   U(−a, a), a = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010; Keras' default)
//   glorot_normal    N(0, sqrt(2 / (fan_in + fan_out)))
//   caffe_xavier     U(−a, a), a = sqrt(3 / fan_in): variance 1/fan_in (Caffe's "xavier" filler)
//   he_normal        N(0, sqrt(2 / fan_in))                     (He et al. 2015)
//   he_uniform       U(−a, a), a = sqrt(6 / fan_in)
// clang-format on
// Fans: dense (units, K): fan_in = K, fan_out = units. Conv (F, C, KH, KW): fan_in = C·KH·KW,
// fan_out = F·KH·KW (Keras' convention: each output pixel sees fan_in inputs).
// In configs an initializer is a name ("he_normal") or an object
// {"type": "constant", "value": 0.1}.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "nn/json.hpp"
#include "nn/random.hpp"

namespace kiln::nn {

struct Initializer {
  Initializer(const char* name = "glorot_uniform", float constant = 0.f)
      : type(name), value(constant) {}
  Initializer(std::string name, float constant = 0.f) : type(std::move(name)), value(constant) {}

  std::string type;
  float value = 0.f;  // constant only

  Json to_json() const;
  // Throws kiln::Error naming `owner` and the allowed names.
  static Initializer from_json(const Json& json, const std::string& owner);
};

std::vector<std::string> initializer_types();

// Throws kiln::Error naming `owner` and the allowed names when `name` is not an initializer.
void check_initializer_name(const std::string& name, const std::string& owner);

void fill_initializer(const Initializer& init, std::span<float> values, std::int64_t fan_in,
                      std::int64_t fan_out, Rng& rng);

}  // namespace kiln::nn
