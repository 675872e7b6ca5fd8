// Geometry of a sliding window (convolution, pooling) along one axis, with Keras' padding modes:
//   valid: out = floor((in - k) / s) + 1, no padding;
//   same:  out = ceil(in / s), total padding max((out - 1)·s + k - in, 0), the smaller half before
//          (TensorFlow's convention: an odd extra pixel goes after).
#pragma once

#include <cstdint>
#include <string>

#include "nn/error.hpp"
#include "nn/json.hpp"

namespace kiln::nn {

enum class Padding { kValid, kSame };

struct Window1d {
  std::int64_t out = 0;         // output positions
  std::int64_t pad_before = 0;  // padding before the first input position
};

inline Window1d window_1d(std::int64_t in, std::int64_t kernel, std::int64_t stride,
                          Padding padding) {
  if (padding == Padding::kValid) {
    return {in >= kernel ? (in - kernel) / stride + 1 : 0, 0};
  }
  const std::int64_t out = (in + stride - 1) / stride;
  const std::int64_t total = std::max<std::int64_t>((out - 1) * stride + kernel - in, 0);
  return {out, total / 2};
}

inline Padding parse_padding(const std::string& text, const std::string& owner) {
  if (text == "valid") return Padding::kValid;
  if (text == "same") return Padding::kSame;
  throw Error(owner + ": padding must be \"valid\" or \"same\", got \"" + text + "\"");
}

inline std::string padding_name(Padding p) { return p == Padding::kValid ? "valid" : "same"; }

// A (height, width) pair given in JSON as a number or as [h, w].
struct Size2 {
  std::int64_t h = 1, w = 1;
  Json to_json() const { return Json::array({h, w}); }
};

inline Size2 parse_size2(const Json& j, const std::string& owner, const std::string& key) {
  if (j.is_number_integer()) return {j.get<std::int64_t>(), j.get<std::int64_t>()};
  if (j.is_array() && j.size() == 2 && j[0].is_number_integer() && j[1].is_number_integer()) {
    return {j[0].get<std::int64_t>(), j[1].get<std::int64_t>()};
  }
  throw Error(owner + ": " + key + " must be an integer or [height, width], got " + j.dump());
}

}  // namespace kiln::nn
