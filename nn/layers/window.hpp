// Geometry of a sliding window (convolution, pooling) along one axis. Padding is one of Keras'
// modes or explicit, as PyTorch and ONNX state it:
//   valid:    out = floor((in - k) / s) + 1, no padding;
//   same:     out = ceil(in / s), total padding max((out - 1)·s + k - in, 0), the smaller half
//             before (TensorFlow's convention: an odd extra pixel goes after);
//   explicit: given pixels before and after on each axis, out = floor((in + before + after - k)
//             / s) + 1. In JSON: an integer (every side, PyTorch's padding=p), [h, w] (both sides
//             of each axis) or [top, left, bottom, right] (ONNX's pads order).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>

#include "nn/error.hpp"
#include "nn/json.hpp"

namespace kiln::nn {

struct Padding {
  enum class Mode { kValid, kSame, kExplicit };
  Mode mode = Mode::kValid;
  std::int64_t top = 0, left = 0, bottom = 0, right = 0;  // kExplicit only

  static const Padding kValid;
  static const Padding kSame;
  static constexpr Padding pixels(std::int64_t top, std::int64_t left, std::int64_t bottom,
                                  std::int64_t right) {
    return {Mode::kExplicit, top, left, bottom, right};
  }
  friend bool operator==(const Padding&, const Padding&) = default;
};
inline constexpr Padding Padding::kValid{Padding::Mode::kValid};
inline constexpr Padding Padding::kSame{Padding::Mode::kSame};

enum class Axis { kHeight, kWidth };

struct Window1d {
  std::int64_t out = 0;         // output positions
  std::int64_t pad_before = 0;  // padding before the first input position
};

inline Window1d window_1d(std::int64_t in, std::int64_t kernel, std::int64_t stride,
                          const Padding& padding, Axis axis) {
  switch (padding.mode) {
    case Padding::Mode::kValid:
      return {in >= kernel ? (in - kernel) / stride + 1 : 0, 0};
    case Padding::Mode::kSame: {
      const std::int64_t out = (in + stride - 1) / stride;
      const std::int64_t total = std::max<std::int64_t>((out - 1) * stride + kernel - in, 0);
      return {out, total / 2};
    }
    case Padding::Mode::kExplicit:
      break;
  }
  const bool rows = axis == Axis::kHeight;
  const std::int64_t before = rows ? padding.top : padding.left;
  const std::int64_t padded = in + before + (rows ? padding.bottom : padding.right);
  return {padded >= kernel ? (padded - kernel) / stride + 1 : 0, before};
}

inline Padding parse_padding(const Json& j, const std::string& owner) {
  const auto pixel_count = [&](const Json& v) {
    if (!v.is_number_integer() || v.get<std::int64_t>() < 0) {
      throw Error(owner + ": padding pixels must be integers >= 0, got " + j.dump());
    }
    return v.get<std::int64_t>();
  };
  if (j.is_string()) {
    if (j == "valid") return Padding::kValid;
    if (j == "same") return Padding::kSame;
  } else if (j.is_number_integer()) {
    const std::int64_t p = pixel_count(j);
    return Padding::pixels(p, p, p, p);
  } else if (j.is_array() && j.size() == 2) {
    const std::int64_t h = pixel_count(j[0]), w = pixel_count(j[1]);
    return Padding::pixels(h, w, h, w);
  } else if (j.is_array() && j.size() == 4) {
    return Padding::pixels(pixel_count(j[0]), pixel_count(j[1]), pixel_count(j[2]),
                           pixel_count(j[3]));
  }
  throw Error(owner +
              ": padding must be \"valid\", \"same\", pixels per side, [h, w] or [top, "
              "left, bottom, right], got " +
              j.dump());
}

inline Json padding_json(const Padding& p) {
  switch (p.mode) {
    case Padding::Mode::kValid:
      return "valid";
    case Padding::Mode::kSame:
      return "same";
    case Padding::Mode::kExplicit:
      break;
  }
  return Json::array({p.top, p.left, p.bottom, p.right});
}

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
