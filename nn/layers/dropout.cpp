#include "nn/layers/dropout.hpp"

#include <cmath>

#include "nn/error.hpp"
#include "nn/layer_options.hpp"
#include "nn/parallel.hpp"

namespace kiln::nn {

std::unique_ptr<Layer> Dropout::from_json(LayerOptions& o) {
  float rate = 0.5f;
  o.read("rate", rate);
  return std::make_unique<Dropout>(rate);
}

Dropout::Dropout(float rate) : rate_(rate) {
  if (!(rate_ >= 0.f && rate_ < 1.f))
    throw Error("dropout: rate must be in [0, 1), got " + std::to_string(rate_));
}

void Dropout::forward(const Tensor& x, Tensor& y, const StepContext& ctx) {
  y.resize(x.shape());
  last_was_train_ = ctx.mode == Mode::kTrain && rate_ > 0.f;
  if (!last_was_train_) {
    std::copy(x.span().begin(), x.span().end(), y.span().begin());
    return;
  }
  const std::int64_t n = x.shape().n, per_sample = x.shape().per_sample();
  const float keep_scale = 1.f / (1.f - rate_);
  // rng.uniform() < rate, in integers: uniform() is b / 2^24 for the top 24 bits b of next_u32(),
  // exactly, and rate · 2^24 is exact in double, so b < ceil(rate · 2^24) is the same test
  // without the conversion (the same masks, bit for bit; tested).
  const auto threshold =
      static_cast<std::uint32_t>(std::ceil(static_cast<double>(rate_) * 16777216.0));
  mask_.resize(static_cast<std::size_t>(x.size()));
  parallel_chunks(n, 8, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const std::uint64_t sample =
          ctx.rows.empty() ? static_cast<std::uint64_t>(r) : ctx.rows[static_cast<std::size_t>(r)];
      Rng rng({ctx.run_seed, ctx.epoch, sample, kSlotLayerBase + ctx.layer});
      for (std::int64_t e = r * per_sample; e < (r + 1) * per_sample; ++e) {
        const float m = (rng.next_u32() >> 8) < threshold ? 0.f : keep_scale;
        mask_[static_cast<std::size_t>(e)] = m;
        y[e] = x[e] * m;
      }
    }
  });
}

void Dropout::backward(const Tensor& x, const Tensor& /*y*/, const Tensor& dy, Tensor& dx) {
  dx.resize(x.shape());
  if (!last_was_train_) {
    std::copy(dy.span().begin(), dy.span().end(), dx.span().begin());
    return;
  }
  parallel_chunks(x.size(), 1 << 15, [&](std::int64_t e0, std::int64_t e1) {
    for (std::int64_t e = e0; e < e1; ++e) dx[e] = dy[e] * mask_[static_cast<std::size_t>(e)];
  });
}

std::unique_ptr<Layer> StochasticDepth::from_json(LayerOptions& o) {
  float rate = 0.1f;
  o.read("rate", rate);
  return std::make_unique<StochasticDepth>(rate);
}

StochasticDepth::StochasticDepth(float rate) : rate_(rate) {
  if (!(rate_ >= 0.f && rate_ < 1.f))
    throw Error("stochastic_depth: rate must be in [0, 1), got " + std::to_string(rate_));
}

void StochasticDepth::forward(const Tensor& x, Tensor& y, const StepContext& ctx) {
  y.resize(x.shape());
  last_was_train_ = ctx.mode == Mode::kTrain && rate_ > 0.f;
  if (!last_was_train_) {
    std::copy(x.span().begin(), x.span().end(), y.span().begin());
    return;
  }
  const std::int64_t n = x.shape().n, per_sample = x.shape().per_sample();
  const float keep_scale = 1.f / (1.f - rate_);
  scale_.resize(static_cast<std::size_t>(n));
  for (std::int64_t r = 0; r < n; ++r) {
    const std::uint64_t sample =
        ctx.rows.empty() ? static_cast<std::uint64_t>(r) : ctx.rows[static_cast<std::size_t>(r)];
    Rng rng({ctx.run_seed, ctx.epoch, sample, kSlotLayerBase + ctx.layer});
    scale_[static_cast<std::size_t>(r)] = rng.uniform() < rate_ ? 0.f : keep_scale;
  }
  parallel_chunks(n, 1, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t e = r0 * per_sample; e < r1 * per_sample; ++e)
      y[e] = x[e] * scale_[static_cast<std::size_t>(e / per_sample)];
  });
}

void StochasticDepth::backward(const Tensor& x, const Tensor& /*y*/, const Tensor& dy, Tensor& dx) {
  dx.resize(x.shape());
  if (!last_was_train_) {
    std::copy(dy.span().begin(), dy.span().end(), dx.span().begin());
    return;
  }
  const std::int64_t per_sample = x.shape().per_sample();
  parallel_chunks(x.shape().n, 1, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t e = r0 * per_sample; e < r1 * per_sample; ++e)
      dx[e] = dy[e] * scale_[static_cast<std::size_t>(e / per_sample)];
  });
}

}  // namespace kiln::nn
