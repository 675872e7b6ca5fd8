#include "nn/layers/merge.hpp"

#include <algorithm>
#include <vector>

#include "nn/error.hpp"
#include "nn/kernels/lane_sum.hpp"
#include "nn/layers/activations.hpp"
#include "nn/parallel.hpp"

namespace kiln::nn {
namespace {

void copy(const Tensor& from, Tensor& to) {
  to.resize(from.shape());
  std::copy(from.span().begin(), from.span().end(), to.span().begin());
}

}  // namespace

Shape Add::build_join(std::span<const Shape> inputs) {
  for (const Shape& s : inputs) {
    if (s.with_n(1) != inputs[0].with_n(1)) {
      std::string shapes;
      for (const Shape& t : inputs) shapes += (shapes.empty() ? "" : ", ") + t.with_n(1).str();
      throw Error("add needs inputs of one shape, got " + shapes);
    }
  }
  return inputs[0].with_n(1);
}

void Add::forward_join(Inputs xs, Tensor& y) {
  y.resize(xs[0]->shape());
  const std::int64_t n = y.size();
  // Summed in the order the inputs are listed, whatever the thread count.
  parallel_chunks(n, 1 << 14, [&](std::int64_t begin, std::int64_t end) {
    float* out = y.data();
    std::copy(xs[0]->data() + begin, xs[0]->data() + end, out + begin);
    for (std::size_t k = 1; k < xs.size(); ++k) {
      const float* in = xs[k]->data();
      for (std::int64_t i = begin; i < end; ++i) out[i] += in[i];
    }
    if (relu_) {  // while the chunk is in cache; the same max as the ReLU layer's
      for (std::int64_t i = begin; i < end; ++i) out[i] = std::max(out[i], 0.f);
    }
  });
}

void Add::backward_join(std::size_t /*k*/, Inputs /*xs*/, const Tensor& y, const Tensor& dy,
                        Tensor& dx) {
  if (!relu_) return copy(dy, dx);
  dx.resize(dy.shape());
  parallel_chunks(dy.size(), 1 << 14, [&](std::int64_t begin, std::int64_t end) {
    relu_gradient(y.data() + begin, dy.data() + begin, end - begin, dx.data() + begin);
  });
}

Shape Concat::build_join(std::span<const Shape> inputs) {
  Shape out = inputs[0].with_n(1);
  out.c = 0;
  for (const Shape& s : inputs) {
    if (s.h != out.h || s.w != out.w) {
      std::string shapes;
      for (const Shape& t : inputs) shapes += (shapes.empty() ? "" : ", ") + t.with_n(1).str();
      throw Error("concat needs inputs of one height and width, got " + shapes);
    }
    out.c += s.c;
  }
  return out;
}

void Concat::forward_join(Inputs xs, Tensor& y) {
  Shape out = xs[0]->shape();
  out.c = 0;
  for (const Tensor* x : xs) out.c += x->shape().c;
  y.resize(out);
  const std::int64_t area = out.h * out.w;
  parallel_chunks(out.n, 1, [&](std::int64_t n0, std::int64_t n1) {
    for (std::int64_t n = n0; n < n1; ++n) {
      float* to = y.data() + n * out.c * area;
      for (const Tensor* x : xs) {
        const std::int64_t block = x->shape().c * area;
        std::copy_n(x->data() + n * block, block, to);
        to += block;
      }
    }
  });
}

void Concat::backward_join(std::size_t k, Inputs xs, const Tensor& /*y*/, const Tensor& dy,
                           Tensor& dx) {
  const Shape& s = xs[k]->shape();
  dx.resize(s);
  const std::int64_t area = s.h * s.w, block = s.c * area, row = dy.shape().c * area;
  std::int64_t offset = 0;
  for (std::size_t j = 0; j < k; ++j) offset += xs[j]->shape().c * area;
  parallel_chunks(s.n, 1, [&](std::int64_t n0, std::int64_t n1) {
    for (std::int64_t n = n0; n < n1; ++n) {
      std::copy_n(dy.data() + n * row + offset, block, dx.data() + n * block);
    }
  });
}

Shape Multiply::build_join(std::span<const Shape> inputs) {
  Shape out = inputs[0].with_n(1);
  for (const Shape& s : inputs) {
    if (s.h * s.w > out.h * out.w) out = s.with_n(1);
  }
  for (const Shape& s : inputs) {
    const bool full = s.with_n(1) == out, per_channel = s.c == out.c && s.h == 1 && s.w == 1;
    if (!full && !per_channel) {
      std::string shapes;
      for (const Shape& t : inputs) shapes += (shapes.empty() ? "" : ", ") + t.with_n(1).str();
      throw Error("multiply needs inputs of one shape, or (C, 1, 1) ones to broadcast, got " +
                  shapes);
    }
  }
  return out;
}

namespace {

// plane[i] *= every input but `skip` (none when skip >= xs.size()) at plane p (sample·C +
// channel) of `area` pixels, in the inputs' order: a (C, 1, 1) input scales the whole plane by
// its channel's value.
void multiply_plane(JoinLayer::Inputs xs, std::size_t skip, std::int64_t p, std::int64_t area,
                    float* plane) {
  for (std::size_t j = 0; j < xs.size(); ++j) {
    if (j == skip) continue;
    const Tensor& x = *xs[j];
    if (x.shape().h * x.shape().w != area) {
      const float gate = x[p];
      for (std::int64_t i = 0; i < area; ++i) plane[i] *= gate;
    } else {
      const float* __restrict in = x.data() + p * area;
      float* __restrict out = plane;
      for (std::int64_t i = 0; i < area; ++i) out[i] *= in[i];
    }
  }
}

}  // namespace

void Multiply::forward_join(Inputs xs, Tensor& y) {
  Shape out = xs[0]->shape();
  for (const Tensor* x : xs)
    if (x->shape().h * x->shape().w > out.h * out.w) out = x->shape();
  y.resize(out);
  const std::int64_t area = out.h * out.w;
  parallel_chunks(out.n * out.c, 8, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      float* plane = y.data() + p * area;
      std::fill(plane, plane + area, 1.f);
      multiply_plane(xs, xs.size(), p, area, plane);
    }
  });
}

void Multiply::backward_join(std::size_t k, Inputs xs, const Tensor& /*y*/, const Tensor& dy,
                             Tensor& dx) {
  const Shape& out = dy.shape();
  const std::int64_t area = out.h * out.w;
  const bool broadcast = xs[k]->shape().h * xs[k]->shape().w != area;
  dx.resize(xs[k]->shape());
  parallel_chunks(out.n * out.c, 8, [&](std::int64_t p0, std::int64_t p1) {
    std::vector<float> scratch(static_cast<std::size_t>(broadcast ? area : 0));
    for (std::int64_t p = p0; p < p1; ++p) {
      // dy ⊙ the other inputs: straight into dx, or for a broadcast input into scratch and then
      // summed over the plane (lane sums: the same for any thread count).
      float* g = broadcast ? scratch.data() : dx.data() + p * area;
      std::copy_n(dy.data() + p * area, area, g);
      multiply_plane(xs, k, p, area, g);
      if (broadcast) dx[p] = lane_sum(g, area);
    }
  });
}

void Identity::forward(const Tensor& x, Tensor& y, const StepContext& /*ctx*/) { copy(x, y); }

void Identity::backward(const Tensor& /*x*/, const Tensor& /*y*/, const Tensor& dy, Tensor& dx) {
  copy(dy, dx);
}

}  // namespace kiln::nn
