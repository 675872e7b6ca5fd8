#include "nn/layers/dense.hpp"

#include <Eigen/Core>
#include <cmath>

#include "nn/error.hpp"
#include "nn/init.hpp"
#include "nn/parallel.hpp"

namespace kiln::nn {
namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixMap = Eigen::Map<RowMatrix>;
using ConstMatrixMap = Eigen::Map<const RowMatrix>;

// Batch rows per task. Fixed, so the arithmetic of each row never depends on the thread count.
constexpr std::int64_t kRowChunk = 64;  // 2 slices of a 128 batch: one large GEMM per core
// Output features per task in the weight-gradient product.
constexpr std::int64_t kFeatureChunk = 64;

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
  y.resize({n, options_.units, 1, 1});
  const ConstMatrixMap w(weight_.value.data(), options_.units, in_features_);
  parallel_chunks(n, kRowChunk, [&](std::int64_t r0, std::int64_t r1) {
    const ConstMatrixMap xs(x.data() + r0 * in_features_, r1 - r0, in_features_);  // (rows, K)
    MatrixMap ys(y.data() + r0 * options_.units, r1 - r0, options_.units);         // (rows, units)
    ys.noalias() = xs * w.transpose();
    if (options_.weights.use_bias) {
      const Eigen::Map<const Eigen::RowVectorXf> b(bias_.value.data(), options_.units);
      ys.rowwise() += b;
    }
    if (relu_) ys = ys.cwiseMax(0.f);
  });
}

const Tensor& Dense::pre_activation_gradient(const Tensor& y, const Tensor& dy) {
  if (!relu_) return dy;
  rectified_.resize(dy.shape());
  parallel_chunks(dy.size(), std::int64_t{1} << 15, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) rectified_[i] = y[i] > 0.f ? dy[i] : 0.f;
  });
  return rectified_;
}

void Dense::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) {
  const std::int64_t n = x.shape().n;
  dx.resize(x.shape());
  const Tensor& g = pre_activation_gradient(y, dy);
  const ConstMatrixMap w(weight_.value.data(), options_.units, in_features_);
  const ConstMatrixMap dys(g.data(), n, options_.units);  // (N, units)
  // dx (N, K) = dy (N, units) · W (units, K), by row chunks.
  parallel_chunks(n, kRowChunk, [&](std::int64_t r0, std::int64_t r1) {
    MatrixMap dxs(dx.data() + r0 * in_features_, r1 - r0, in_features_);
    dxs.noalias() = dys.middleRows(r0, r1 - r0) * w;
  });
  add_parameter_gradients(x, g);
}

void Dense::backward_parameters(const Tensor& x, const Tensor& y, const Tensor& dy) {
  add_parameter_gradients(x, pre_activation_gradient(y, dy));
}

void Dense::add_parameter_gradients(const Tensor& x, const Tensor& g) {
  const std::int64_t n = x.shape().n;
  const ConstMatrixMap dys(g.data(), n, options_.units);  // (N, units)
  const ConstMatrixMap xs(x.data(), n, in_features_);     // (N, K)

  // dW (units, K) += dyᵀ · x and db += Σ_n dy, by output-feature chunks: each element's sum over
  // the batch is computed by one task, in one fixed order.
  parallel_chunks(options_.units, kFeatureChunk, [&](std::int64_t o0, std::int64_t o1) {
    MatrixMap dw(weight_.grad.data() + o0 * in_features_, o1 - o0, in_features_);
    dw.noalias() += dys.middleCols(o0, o1 - o0).transpose() * xs;
    if (options_.weights.use_bias) {
      // Rows outer, features inner: each feature's sum still runs over r = 0, 1, ... in order
      // (the same rounding as one loop per feature), but the features vectorize.
      float sums[kFeatureChunk] = {};
      for (std::int64_t r = 0; r < n; ++r) {
        const float* row = g.data() + r * options_.units;
        for (std::int64_t o = o0; o < o1; ++o) sums[o - o0] += row[o];
      }
      for (std::int64_t o = o0; o < o1; ++o) bias_.grad[o] += sums[o - o0];
    }
  });
}

std::vector<Parameter*> Dense::parameters() {
  if (options_.weights.use_bias) return {&weight_, &bias_};
  return {&weight_};
}

Json Dense::config() const {
  Json config = {{"units", options_.units}};
  options_.weights.add_to(config);
  return config;
}

}  // namespace kiln::nn
