#include "nn/layers/activations.hpp"

#include <algorithm>

#include "nn/parallel.hpp"

namespace kiln::nn {
namespace {
constexpr std::int64_t kElementChunk = 1 << 15;
}  // namespace

void Relu::forward(const Tensor& x, Tensor& y, const StepContext& /*ctx*/) {
  y.resize(x.shape());
  parallel_chunks(x.size(), kElementChunk, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) y[i] = std::max(x[i], 0.f);
  });
}

void Relu::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) {
  dx.resize(x.shape());
  parallel_chunks(x.size(), kElementChunk, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) dx[i] = y[i] > 0.f ? dy[i] : 0.f;
  });
}

}  // namespace kiln::nn
