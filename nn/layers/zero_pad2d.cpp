#include "nn/layers/zero_pad2d.hpp"

#include <algorithm>

#include "nn/error.hpp"
#include "nn/layer_options.hpp"
#include "nn/parallel.hpp"

namespace kiln::nn {

ZeroPad2D::ZeroPad2D(Padding pixels) : pad_(pixels) {
  if (pad_.mode != Padding::Mode::kExplicit) {
    throw Error(
        "zero_pad2d: padding must be pixels (an integer, [h, w] or [top, left, bottom, "
        "right]), not \"valid\" or \"same\"");
  }
}

std::unique_ptr<Layer> ZeroPad2D::from_json(LayerOptions& o) {
  Padding pixels = Padding::pixels(1, 1, 1, 1);
  o.read("padding", pixels);
  return std::make_unique<ZeroPad2D>(pixels);
}

Shape ZeroPad2D::build(const Shape& input) {
  return {1, input.c, input.h + pad_.top + pad_.bottom, input.w + pad_.left + pad_.right};
}

void ZeroPad2D::forward(const Tensor& x, Tensor& y, const StepContext& /*ctx*/) {
  const Shape& s = x.shape();
  const Shape out = build(s);
  y.resize({s.n, out.c, out.h, out.w});
  parallel_chunks(s.n * s.c, 8, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      float* plane = y.data() + p * out.h * out.w;
      std::fill(plane, plane + out.h * out.w, 0.f);
      for (std::int64_t r = 0; r < s.h; ++r) {
        const float* from = x.data() + (p * s.h + r) * s.w;
        std::copy(from, from + s.w, plane + (r + pad_.top) * out.w + pad_.left);
      }
    }
  });
}

void ZeroPad2D::backward(const Tensor& x, const Tensor& /*y*/, const Tensor& dy, Tensor& dx) {
  const Shape& s = x.shape();
  const Shape& out = dy.shape();
  dx.resize(s);
  parallel_chunks(s.n * s.c, 8, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      const float* plane = dy.data() + p * out.h * out.w;
      for (std::int64_t r = 0; r < s.h; ++r) {
        const float* from = plane + (r + pad_.top) * out.w + pad_.left;
        std::copy(from, from + s.w, dx.data() + (p * s.h + r) * s.w);
      }
    }
  });
}

}  // namespace kiln::nn
