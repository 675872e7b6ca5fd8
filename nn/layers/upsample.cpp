#include "nn/layers/upsample.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "nn/error.hpp"
#include "nn/layer_options.hpp"
#include "nn/parallel.hpp"

namespace kiln::nn {
namespace {

// Where output position o reads along one axis: inputs `low` and `high` with weights
// 1 − fraction and fraction (nearest: `low` alone).
struct Source {
  std::int64_t low = 0, high = 0;
  float fraction = 0.f;
};

std::vector<Source> sources(std::int64_t in, std::int64_t factor, Interpolation interpolation) {
  std::vector<Source> out(static_cast<std::size_t>(in * factor));
  for (std::int64_t o = 0; o < in * factor; ++o) {
    Source& s = out[static_cast<std::size_t>(o)];
    if (interpolation == Interpolation::kNearest) {
      s.low = s.high = o / factor;
      continue;
    }
    const double position =
        std::max((static_cast<double>(o) + 0.5) / static_cast<double>(factor) - 0.5, 0.0);
    s.low = std::min(static_cast<std::int64_t>(position), in - 1);
    s.high = std::min(s.low + 1, in - 1);
    s.fraction = static_cast<float>(position - static_cast<double>(s.low));
  }
  return out;
}

}  // namespace

Upsample::Upsample(Size2 factors, Interpolation interpolation)
    : factors_(factors), interpolation_(interpolation) {
  if (factors_.h < 1 || factors_.w < 1) {
    throw Error("upsample: size must be whole factors >= 1, got [" + std::to_string(factors_.h) +
                ", " + std::to_string(factors_.w) + "]");
  }
}

std::unique_ptr<Layer> Upsample::from_json(LayerOptions& o) {
  Size2 factors{2, 2};
  o.read("size", factors);
  std::string interpolation = "nearest";
  o.read("interpolation", interpolation);
  if (interpolation != "nearest" && interpolation != "bilinear") {
    throw Error("upsample: interpolation must be \"nearest\" or \"bilinear\", got \"" +
                interpolation + "\"");
  }
  return std::make_unique<Upsample>(
      factors, interpolation == "nearest" ? Interpolation::kNearest : Interpolation::kBilinear);
}

Json Upsample::config() const {
  return {{"size", factors_.to_json()},
          {"interpolation", interpolation_ == Interpolation::kNearest ? "nearest" : "bilinear"}};
}

Shape Upsample::build(const Shape& input) {
  return {1, input.c, input.h * factors_.h, input.w * factors_.w};
}

void Upsample::forward(const Tensor& x, Tensor& y, const StepContext& /*ctx*/) {
  const Shape& s = x.shape();
  const std::int64_t oh = s.h * factors_.h, ow = s.w * factors_.w;
  const std::vector<Source> rows = sources(s.h, factors_.h, interpolation_);
  const std::vector<Source> cols = sources(s.w, factors_.w, interpolation_);
  y.resize({s.n, s.c, oh, ow});
  parallel_chunks(s.n * s.c, 4, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      const float* in = x.data() + p * s.h * s.w;
      float* out = y.data() + p * oh * ow;
      for (std::int64_t oy = 0; oy < oh; ++oy) {
        const Source& r = rows[static_cast<std::size_t>(oy)];
        const float* low = in + r.low * s.w;
        const float* high = in + r.high * s.w;
        for (std::int64_t ox = 0; ox < ow; ++ox) {
          const Source& c = cols[static_cast<std::size_t>(ox)];
          const float top = low[c.low] + c.fraction * (low[c.high] - low[c.low]);
          const float bottom = high[c.low] + c.fraction * (high[c.high] - high[c.low]);
          out[oy * ow + ox] = top + r.fraction * (bottom - top);
        }
      }
    }
  });
}

void Upsample::backward(const Tensor& x, const Tensor& /*y*/, const Tensor& dy, Tensor& dx) {
  const Shape& s = x.shape();
  const std::int64_t oh = s.h * factors_.h, ow = s.w * factors_.w;
  const std::vector<Source> rows = sources(s.h, factors_.h, interpolation_);
  const std::vector<Source> cols = sources(s.w, factors_.w, interpolation_);
  dx.resize(s);
  dx.fill(0.f);
  parallel_chunks(s.n * s.c, 4, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      const float* grad = dy.data() + p * oh * ow;
      float* back = dx.data() + p * s.h * s.w;
      for (std::int64_t oy = 0; oy < oh; ++oy) {
        const Source& r = rows[static_cast<std::size_t>(oy)];
        for (std::int64_t ox = 0; ox < ow; ++ox) {
          const Source& c = cols[static_cast<std::size_t>(ox)];
          const float g = grad[oy * ow + ox];
          const float top = g * (1.f - r.fraction), bottom = g * r.fraction;
          back[r.low * s.w + c.low] += top * (1.f - c.fraction);
          back[r.low * s.w + c.high] += top * c.fraction;
          back[r.high * s.w + c.low] += bottom * (1.f - c.fraction);
          back[r.high * s.w + c.high] += bottom * c.fraction;
        }
      }
    }
  });
}

}  // namespace kiln::nn
