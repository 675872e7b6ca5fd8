#include "nn/layers/lrn.hpp"

#include <algorithm>
#include <cmath>

#include "nn/error.hpp"
#include "nn/layer_options.hpp"
#include "nn/parallel.hpp"

namespace kiln::nn {
namespace {

// s^(−β). β = 0.75 (AlexNet's) is the common case: 1 / (sqrt(s) · sqrt(sqrt(s))), several times
// cheaper than pow; bit-for-bit the same on every run either way.
inline float inverse_power(float s, float beta) {
  if (beta == 0.75f) {
    const float r = std::sqrt(s);
    return 1.f / (r * std::sqrt(r));
  }
  return std::pow(s, -beta);
}

}  // namespace

LocalResponseNorm::LocalResponseNorm(LrnOptions options) : options_(options) {
  if (options_.size < 1 || options_.size % 2 == 0) {
    throw Error("lrn: size must be a positive odd number, got " + std::to_string(options_.size));
  }
  if (!(options_.alpha >= 0.f) || !(options_.beta >= 0.f) || !(options_.k > 0.f)) {
    throw Error("lrn: alpha and beta must be >= 0 and k > 0");
  }
}

std::unique_ptr<Layer> LocalResponseNorm::from_json(LayerOptions& o) {
  LrnOptions options;
  o.read("size", options.size);
  o.read("alpha", options.alpha);
  o.read("beta", options.beta);
  o.read("k", options.k);
  return std::make_unique<LocalResponseNorm>(options);
}

Json LocalResponseNorm::config() const {
  return {{"size", options_.size},
          {"alpha", options_.alpha},
          {"beta", options_.beta},
          {"k", options_.k}};
}

void LocalResponseNorm::forward(const Tensor& x, Tensor& y, const StepContext& /*ctx*/) {
  const Shape& s = x.shape();
  const std::int64_t area = s.h * s.w, half = options_.size / 2;
  y.resize(s);
  scale_.resize(static_cast<std::size_t>(x.size()));
  parallel_chunks(s.n, 4, [&](std::int64_t n0, std::int64_t n1) {
    for (std::int64_t n = n0; n < n1; ++n) {
      const std::int64_t base = n * s.c * area;
      for (std::int64_t c = 0; c < s.c; ++c) {
        const std::int64_t lo = std::max<std::int64_t>(c - half, 0),
                           hi = std::min(c + half, s.c - 1);
        for (std::int64_t i = 0; i < area; ++i) {
          float sum = 0.f;
          for (std::int64_t j = lo; j <= hi; ++j)
            sum += x[base + j * area + i] * x[base + j * area + i];
          const float scale = options_.k + options_.alpha * sum;
          scale_[static_cast<std::size_t>(base + c * area + i)] = scale;
          y[base + c * area + i] = x[base + c * area + i] * inverse_power(scale, options_.beta);
        }
      }
    }
  });
}

void LocalResponseNorm::backward(const Tensor& x, const Tensor& /*y*/, const Tensor& dy,
                                 Tensor& dx) {
  const Shape& s = x.shape();
  const std::int64_t area = s.h * s.w, half = options_.size / 2;
  const float alpha = options_.alpha, beta = options_.beta;
  dx.resize(s);
  parallel_chunks(s.n, 4, [&](std::int64_t n0, std::int64_t n1) {
    for (std::int64_t n = n0; n < n1; ++n) {
      const std::int64_t base = n * s.c * area;
      auto at = [&](std::int64_t c, std::int64_t i) {
        return static_cast<std::size_t>(base + c * area + i);
      };
      for (std::int64_t c = 0; c < s.c; ++c) {
        const std::int64_t lo = std::max<std::int64_t>(c - half, 0),
                           hi = std::min(c + half, s.c - 1);
        for (std::int64_t i = 0; i < area; ++i) {
          float cross = 0.f;  // Σ_{j ∈ N(c)} dy[j]·x[j]·s[j]^(−β−1)
          for (std::int64_t j = lo; j <= hi; ++j) {
            cross += dy[base + j * area + i] * x[base + j * area + i] *
                     std::pow(scale_[at(j, i)], -beta - 1.f);
          }
          dx[base + c * area + i] =
              dy[base + c * area + i] * inverse_power(scale_[at(c, i)], beta) -
              2.f * alpha * beta * x[base + c * area + i] * cross;
        }
      }
    }
  });
}

}  // namespace kiln::nn
