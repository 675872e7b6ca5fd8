#include "nn/layers/batch_norm.hpp"

#include <algorithm>
#include <cmath>

#include "nn/error.hpp"
#include "nn/kernels/lane_sum.hpp"
#include "nn/layer_options.hpp"
#include "nn/layers/activations.hpp"
#include "nn/parallel.hpp"

namespace kiln::nn {

std::unique_ptr<Layer> BatchNorm::from_json(LayerOptions& o) {
  float momentum = 0.99f, epsilon = 1e-3f;
  o.read("momentum", momentum);
  o.read("epsilon", epsilon);
  return std::make_unique<BatchNorm>(momentum, epsilon);
}

BatchNorm::BatchNorm(float momentum, float epsilon) : momentum_(momentum), epsilon_(epsilon) {
  if (!(momentum_ >= 0.f && momentum_ < 1.f)) {
    throw Error("batch_norm: momentum must be in [0, 1), got " + std::to_string(momentum_));
  }
  if (!(epsilon_ > 0.f))
    throw Error("batch_norm: epsilon must be > 0, got " + std::to_string(epsilon_));
}

Shape BatchNorm::build(const Shape& input) {
  const Shape c{input.c, 1, 1, 1};
  gamma_ = {"gamma", Tensor(c, 1.f), Tensor(c), {}};
  beta_ = {"beta", Tensor(c), Tensor(c), {}};
  running_mean_ = {"running_mean", Tensor(c, 0.f)};
  running_var_ = {"running_var", Tensor(c, 1.f)};
  return input.with_n(1);
}

void BatchNorm::initialize(Rng& /*rng*/) {
  gamma_.value.fill(1.f);
  beta_.value.fill(0.f);
  running_mean_.value.fill(0.f);
  running_var_.value.fill(1.f);
}

void BatchNorm::fold_channel(std::int64_t c, double mean, double unbiased) {
  running_mean_.value[c] =
      static_cast<float>(momentum_ * running_mean_.value[c] + (1.0 - momentum_) * mean);
  running_var_.value[c] =
      static_cast<float>(momentum_ * running_var_.value[c] + (1.0 - momentum_) * unbiased);
}

std::vector<double> BatchNorm::batch_statistics() const { return statistics_; }

void BatchNorm::fold_batch_statistics(std::span<const double> statistics) {
  const std::int64_t channels = running_mean_.value.size();
  if (static_cast<std::int64_t>(statistics.size()) != 2 * channels) {
    throw Error("batch_norm: " + std::to_string(statistics.size()) + " batch statistics for " +
                std::to_string(channels) + " channels");
  }
  for (std::int64_t c = 0; c < channels; ++c) {
    fold_channel(c, statistics[static_cast<std::size_t>(c)],
                 statistics[static_cast<std::size_t>(channels + c)]);
  }
}

void BatchNorm::forward(const Tensor& x, Tensor& y, const StepContext& ctx) {
  const Shape& s = x.shape();
  const std::int64_t channels = s.c, area = s.h * s.w, count = s.n * area;
  y.resize(s);
  mean_.resize(static_cast<std::size_t>(channels));
  inv_std_.resize(static_cast<std::size_t>(channels));
  last_was_train_ = ctx.mode == Mode::kTrain;
  statistics_.assign(last_was_train_ ? static_cast<std::size_t>(2 * channels) : 0, 0.0);
  // One task per channel group: every channel's sums run in one fixed order.
  parallel_chunks(channels, 4, [&](std::int64_t c0, std::int64_t c1) {
    for (std::int64_t c = c0; c < c1; ++c) {
      double mean, var;
      if (last_was_train_) {
        // Each sample's plane in float lanes (vector code), the planes' sums in double.
        double sum = 0.0;
        for (std::int64_t n = 0; n < s.n; ++n) {
          sum += lane_sum(x.data() + (n * channels + c) * area, area);
        }
        mean = sum / static_cast<double>(count);
        double sq = 0.0;  // two passes: no cancellation in Σx² − (Σx)²
        const auto m = static_cast<float>(mean);
        for (std::int64_t n = 0; n < s.n; ++n) {
          const float* p = x.data() + (n * channels + c) * area;
          sq += lane_sum_of(area, [p, m](std::int64_t i) { return (p[i] - m) * (p[i] - m); });
        }
        var = sq / static_cast<double>(count);
        const double unbiased =
            count > 1 ? var * static_cast<double>(count) / static_cast<double>(count - 1) : var;
        statistics_[static_cast<std::size_t>(c)] = mean;
        statistics_[static_cast<std::size_t>(channels + c)] = unbiased;
        if (ctx.fold_statistics) fold_channel(c, mean, unbiased);
      } else {
        mean = running_mean_.value[c];
        var = running_var_.value[c];
      }
      mean_[static_cast<std::size_t>(c)] = static_cast<float>(mean);
      inv_std_[static_cast<std::size_t>(c)] = inverse_std(var);
      // The map (with an absorbed ReLU) while the plane is in cache: what a convolution before
      // this layer applies in its place at evaluation (eval_map()).
      const ChannelMap map{gamma_.value.data(), mean_.data(), inv_std_.data(), beta_.value.data(),
                           relu_};
      for (std::int64_t n = 0; n < s.n; ++n) {
        const std::int64_t base = (n * channels + c) * area;
        map.apply(c, x.data() + base, y.data() + base, area);
      }
    }
  });
}

float BatchNorm::inverse_std(double variance) const {
  return static_cast<float>(1.0 / std::sqrt(variance + epsilon_));
}

ChannelMap BatchNorm::eval_map() {
  const std::int64_t channels = running_mean_.value.size();
  mean_.resize(static_cast<std::size_t>(channels));
  inv_std_.resize(static_cast<std::size_t>(channels));
  for (std::int64_t c = 0; c < channels; ++c) {
    mean_[static_cast<std::size_t>(c)] = running_mean_.value[c];
    inv_std_[static_cast<std::size_t>(c)] = inverse_std(running_var_.value[c]);
  }
  last_was_train_ = false;
  statistics_.clear();
  return {gamma_.value.data(), mean_.data(), inv_std_.data(), beta_.value.data(), relu_};
}

void BatchNorm::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) {
  backward_into(x, y, dy, &dx);
}

void BatchNorm::backward_parameters(const Tensor& x, const Tensor& y, const Tensor& dy) {
  backward_into(x, y, dy, nullptr);
}

void BatchNorm::backward_into(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  const Shape& s = x.shape();
  const std::int64_t channels = s.c, area = s.h * s.w;
  const auto count = static_cast<double>(s.n * area);
  if (dx != nullptr) dx->resize(s);
  parallel_chunks(channels, 4, [&](std::int64_t c0, std::int64_t c1) {
    // With an absorbed ReLU, dy of the rectified output masked by y > 0 (the ReLU's backward),
    // one plane at a time into a buffer that stays in cache for both passes over it.
    std::vector<float> masked(relu_ ? static_cast<std::size_t>(area) : 0);
    const auto plane = [&](std::int64_t base) {
      if (!relu_) return dy.data() + base;
      relu_gradient(y.data() + base, dy.data() + base, area, masked.data());
      return static_cast<const float*>(masked.data());
    };
    for (std::int64_t c = c0; c < c1; ++c) {
      const float m = mean_[static_cast<std::size_t>(c)];
      const float inv_std = inv_std_[static_cast<std::size_t>(c)];
      double sum_dy = 0.0, sum_dy_xhat = 0.0;
      for (std::int64_t n = 0; n < s.n; ++n) {
        const std::int64_t base = (n * channels + c) * area;
        const float* g = plane(base);
        const float* in = x.data() + base;
        sum_dy += lane_sum(g, area);
        sum_dy_xhat += lane_sum_of(
            area, [g, in, m, inv_std](std::int64_t i) { return g[i] * ((in[i] - m) * inv_std); });
      }
      gamma_.grad[c] += static_cast<float>(sum_dy_xhat);
      beta_.grad[c] += static_cast<float>(sum_dy);
      if (dx == nullptr) continue;
      const float g_inv = gamma_.value[c] * inv_std;
      // dx = γ/σ · (dy − mean(dy) − x̂·mean(dy·x̂)) in training: μ and σ depend on x too.
      const auto mean_dy = static_cast<float>(last_was_train_ ? sum_dy / count : 0.0);
      const auto mean_dy_xhat = static_cast<float>(last_was_train_ ? sum_dy_xhat / count : 0.0);
      for (std::int64_t n = 0; n < s.n; ++n) {
        const std::int64_t base = (n * channels + c) * area;
        const float* __restrict g = plane(base);
        const float* __restrict in = x.data() + base;
        float* __restrict out = dx->data() + base;
        for (std::int64_t i = 0; i < area; ++i) {
          out[i] = g_inv * (g[i] - mean_dy - ((in[i] - m) * inv_std) * mean_dy_xhat);
        }
      }
    }
  });
}

}  // namespace kiln::nn
