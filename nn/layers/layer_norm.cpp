#include "nn/layers/layer_norm.hpp"

#include <cmath>

#include "nn/error.hpp"
#include "nn/layer_options.hpp"
#include "nn/parallel.hpp"

namespace kiln::nn {
namespace {

constexpr std::int64_t kSampleChunk = 4;  // fixed: the gradient sums' order depends on it alone

// μ and 1 / sqrt(σ² + ε) over the C values `stride` apart from `x`, in double.
std::pair<double, double> moments(const float* x, std::int64_t channels, std::int64_t stride,
                                  double epsilon) {
  double sum = 0.0, squares = 0.0;
  for (std::int64_t c = 0; c < channels; ++c) sum += x[c * stride];
  const double mean = sum / static_cast<double>(channels);
  for (std::int64_t c = 0; c < channels; ++c) {
    const double d = x[c * stride] - mean;
    squares += d * d;
  }
  return {mean, 1.0 / std::sqrt(squares / static_cast<double>(channels) + epsilon)};
}

}  // namespace

LayerNorm::LayerNorm(float epsilon) : epsilon_(epsilon) {
  if (!(epsilon_ > 0.f)) throw Error("layer_norm: epsilon must be > 0");
}

std::unique_ptr<Layer> LayerNorm::from_json(LayerOptions& o) {
  float epsilon = 1e-5f;
  o.read("epsilon", epsilon);
  return std::make_unique<LayerNorm>(epsilon);
}

Shape LayerNorm::build(const Shape& input) {
  const Shape c{input.c, 1, 1, 1};
  gamma_ = {"gamma", Tensor(c, 1.f), Tensor(c), {}};
  beta_ = {"beta", Tensor(c), Tensor(c), {}};
  return input.with_n(1);
}

void LayerNorm::initialize(Rng& /*rng*/) {
  gamma_.value.fill(1.f);
  beta_.value.fill(0.f);
}

void LayerNorm::forward(const Tensor& x, Tensor& y, const StepContext& /*ctx*/) {
  const Shape& s = x.shape();
  const std::int64_t plane = s.h * s.w;
  y.resize(s);
  parallel_chunks(s.n * plane, 64, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      const std::int64_t at = (p / plane) * s.per_sample() + p % plane;
      const auto [mean, inverse] = moments(x.data() + at, s.c, plane, epsilon_);
      for (std::int64_t c = 0; c < s.c; ++c) {
        const double normalized = (x[at + c * plane] - mean) * inverse;
        y[at + c * plane] = static_cast<float>(normalized * gamma_.value[c] + beta_.value[c]);
      }
    }
  });
}

void LayerNorm::backward(const Tensor& x, const Tensor& /*y*/, const Tensor& dy, Tensor& dx) {
  const Shape& s = x.shape();
  const std::int64_t plane = s.h * s.w, chunks = (s.n + kSampleChunk - 1) / kSampleChunk;
  dx.resize(s);
  // Per chunk: dγ then dβ, C each; summed below in chunk order.
  std::vector<double> partial(static_cast<std::size_t>(chunks * 2 * s.c), 0.0);
  parallel_chunks(s.n, kSampleChunk, [&](std::int64_t n0, std::int64_t n1) {
    double* dgamma = partial.data() + (n0 / kSampleChunk) * 2 * s.c;
    double* dbeta = dgamma + s.c;
    std::vector<double> normalized(static_cast<std::size_t>(s.c));
    for (std::int64_t n = n0; n < n1; ++n) {
      for (std::int64_t p = 0; p < plane; ++p) {
        const std::int64_t at = n * s.per_sample() + p;
        const auto [mean, inverse] = moments(x.data() + at, s.c, plane, epsilon_);
        double mean_g = 0.0, mean_gx = 0.0;  // means over C of dx̂ and dx̂·x̂
        for (std::int64_t c = 0; c < s.c; ++c) {
          const double xh = (x[at + c * plane] - mean) * inverse, g = dy[at + c * plane];
          normalized[static_cast<std::size_t>(c)] = xh;
          dgamma[c] += g * xh;
          dbeta[c] += g;
          mean_g += g * gamma_.value[c];
          mean_gx += g * gamma_.value[c] * xh;
        }
        mean_g /= static_cast<double>(s.c);
        mean_gx /= static_cast<double>(s.c);
        for (std::int64_t c = 0; c < s.c; ++c) {
          const double g = dy[at + c * plane] * gamma_.value[c];
          dx[at + c * plane] = static_cast<float>(
              (g - mean_g - normalized[static_cast<std::size_t>(c)] * mean_gx) * inverse);
        }
      }
    }
  });
  for (std::int64_t k = 0; k < chunks; ++k) {
    for (std::int64_t c = 0; c < s.c; ++c) {
      gamma_.grad[c] += static_cast<float>(partial[static_cast<std::size_t>(k * 2 * s.c + c)]);
      beta_.grad[c] += static_cast<float>(partial[static_cast<std::size_t>(k * 2 * s.c + s.c + c)]);
    }
  }
}

}  // namespace kiln::nn
