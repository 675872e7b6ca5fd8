#include "nn/layers/dense.hpp"

#include <algorithm>
#include <cmath>

#include "nn/error.hpp"
#include "nn/init.hpp"
#include "nn/kernels/aligned_vector.hpp"
#include "nn/kernels/gemm.hpp"
#include "nn/kernels/transpose.hpp"
#include "nn/layer_options.hpp"
#include "nn/layers/activations.hpp"
#include "nn/parallel.hpp"

namespace kiln::nn {
namespace {

// Output features (forward, weight gradients) or input features (input gradients) per task.
// Fixed, so the arithmetic of every element never depends on the thread count.
constexpr std::int64_t kFeatureChunk = 64;
// Wᵀ is packed in panels this many units wide: gemm reads a 32-wide B with rows 128 bytes apart,
// which walks every L1 set; Wᵀ's own rows (units floats apart, often 2 KB) would fall into a few.
constexpr std::int64_t kPanelWidth = 32;
static_assert(kFeatureChunk % kPanelWidth == 0);

}  // namespace

Dense::Dense(DenseOptions options) : options_(std::move(options)) {
  if (options_.units <= 0) {
    throw Error("dense: units must be > 0, got " + std::to_string(options_.units));
  }
  check_initializer_name(options_.weights.init.type, "dense");
}

Shape Dense::build(const Shape& input) {
  in_features_ = input.per_sample();
  if (in_features_ <= 0) throw Error("dense: input shape " + input.str() + " has no features");
  const Shape w{options_.units, in_features_, 1, 1};
  weight_ = {"weight", Tensor(w), Tensor(w), options_.weights.kernel_regularizer};
  if (options_.weights.use_bias) {
    bias_ = {"bias", Tensor({options_.units, 1, 1, 1}), Tensor({options_.units, 1, 1, 1}),
             options_.weights.bias_regularizer};
  }
  return {1, options_.units, 1, 1};
}

void Dense::initialize(Rng& rng) {
  // fan_in = K inputs per unit, fan_out = units.
  fill_initializer(options_.weights.init, weight_.value.span(), in_features_, options_.units, rng);
  if (options_.weights.use_bias) bias_.value.fill(options_.weights.bias_init);
}

void Dense::forward(const Tensor& x, Tensor& y, const StepContext& /*ctx*/) {
  const std::int64_t n = x.shape().n;
  const std::int64_t units = options_.units;
  const std::int64_t k = in_features_;
  y.resize({n, units, 1, 1});
  parallel_chunks(units, kFeatureChunk, [&](std::int64_t u0, std::int64_t u1) {
    // One panel at a time, not all of Wᵀ: a copy of the whole matrix would double the memory of
    // the largest layers (vgg16's first dense layer holds 411 MB).
    ScratchVector<float> panel(static_cast<std::size_t>(k * kPanelWidth));
    for (std::int64_t q0 = u0; q0 < u1; q0 += kPanelWidth) {
      // Wᵀ's columns q0.. as a (K × 32) panel, then y[:, q0..] = x · panel.
      const std::int64_t width = std::min(kPanelWidth, u1 - q0);
      transpose(weight_.value.data() + q0 * k, width, k, k, panel.data(), kPanelWidth);
      gemm(n, width, k, {x.data(), k, 1}, panel.data(), kPanelWidth, y.data() + q0, units, false);
    }
    const float* b = options_.weights.use_bias ? bias_.value.data() : nullptr;
    for (std::int64_t r = 0; r < n; ++r) {
      float* row = y.data() + r * units;
      if (b) {
        for (std::int64_t u = u0; u < u1; ++u) row[u] += b[u];
      }
      if (relu_) {
        for (std::int64_t u = u0; u < u1; ++u) row[u] = std::max(row[u], 0.f);
      }
    }
  });
}

const Tensor& Dense::pre_activation_gradient(const Tensor& y, const Tensor& dy) {
  if (!relu_) return dy;
  rectified_.resize(dy.shape());
  parallel_chunks(dy.size(), std::int64_t{1} << 15, [&](std::int64_t i0, std::int64_t i1) {
    relu_gradient(y.data() + i0, dy.data() + i0, i1 - i0, rectified_.data() + i0);
  });
  return rectified_;
}

void Dense::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) {
  dx.resize(x.shape());
  const Tensor& g = pre_activation_gradient(y, dy);
  // The input-gradient chunks and the weight-gradient chunks in one parallel loop: they read the
  // same g and write apart, and one loop instead of two saves a fork and join per layer.
  const std::int64_t input_chunks = (in_features_ + kFeatureChunk - 1) / kFeatureChunk;
  const std::int64_t unit_chunks = (options_.units + kFeatureChunk - 1) / kFeatureChunk;
  parallel_chunks(input_chunks + unit_chunks, 1, [&](std::int64_t t0, std::int64_t t1) {
    for (std::int64_t t = t0; t < t1; ++t) {
      if (t < input_chunks) {
        compute_input_gradient(g, t * kFeatureChunk,
                               std::min(in_features_, (t + 1) * kFeatureChunk), dx);
      } else {
        const std::int64_t o0 = (t - input_chunks) * kFeatureChunk;
        add_parameter_gradients(x, g, o0, std::min(options_.units, o0 + kFeatureChunk));
      }
    }
  });
}

void Dense::backward_parameters(const Tensor& x, const Tensor& y, const Tensor& dy) {
  const Tensor& g = pre_activation_gradient(y, dy);
  parallel_chunks(options_.units, kFeatureChunk,
                  [&](std::int64_t o0, std::int64_t o1) { add_parameter_gradients(x, g, o0, o1); });
}

void Dense::compute_input_gradient(const Tensor& g, std::int64_t k0, std::int64_t k1, Tensor& dx) {
  // dx[:, k0..k1) (N, K) = g (N, units) · W[:, k0..k1) (units, K).
  const std::int64_t k = in_features_;
  gemm(g.shape().n, k1 - k0, options_.units, {g.data(), options_.units, 1},
       weight_.value.data() + k0, k, dx.data() + k0, k, false);
}

void Dense::add_parameter_gradients(const Tensor& x, const Tensor& g, std::int64_t o0,
                                    std::int64_t o1) {
  const std::int64_t n = x.shape().n;
  const std::int64_t units = options_.units;
  const std::int64_t k = in_features_;
  // dW[o0..o1) (units, K) += gᵀ · x and db[o0..o1) += Σ_n g: each element's sum over the batch is
  // computed by one task, in one fixed order. gᵀ is read in place (column stride `units`), x as
  // it is.
  gemm(o1 - o0, k, n, {g.data() + o0, 1, units}, x.data(), k, weight_.grad.data() + o0 * k, k,
       true);
  if (options_.weights.use_bias) {
    // Rows outer, features inner: each feature's sum still runs over r = 0, 1, ... in order
    // (the same rounding as one loop per feature), but the features vectorize.
    float sums[kFeatureChunk] = {};
    for (std::int64_t r = 0; r < n; ++r) {
      const float* row = g.data() + r * units;
      for (std::int64_t o = o0; o < o1; ++o) sums[o - o0] += row[o];
    }
    for (std::int64_t o = o0; o < o1; ++o) bias_.grad[o] += sums[o - o0];
  }
}

std::vector<Parameter*> Dense::parameters() {
  if (options_.weights.use_bias) return {&weight_, &bias_};
  return {&weight_};
}

std::unique_ptr<Layer> Dense::from_json(LayerOptions& o) {
  DenseOptions options;
  o.read("units", options.units);
  o.read_weights(options.weights);
  return std::make_unique<Dense>(options);
}

Json Dense::config() const {
  Json config = {{"units", options_.units}};
  options_.weights.add_to(config);
  return config;
}

}  // namespace kiln::nn
