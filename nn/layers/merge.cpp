#include "nn/layers/merge.hpp"

#include <algorithm>

#include "nn/error.hpp"
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

void Identity::forward(const Tensor& x, Tensor& y, const StepContext& /*ctx*/) { copy(x, y); }

void Identity::backward(const Tensor& /*x*/, const Tensor& /*y*/, const Tensor& dy, Tensor& dx) {
  copy(dy, dx);
}

}  // namespace kiln::nn
