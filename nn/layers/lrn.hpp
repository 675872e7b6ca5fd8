// Local response normalization across channels (AlexNet's "Norm" layer, Krizhevsky et al. 2012
// §3.3):
//   s[c] = k + α · Σ_{j ∈ N(c)} x[j]²,   N(c) = channels c − ⌊n/2⌋ … c + ⌊n/2⌋ inside [0, C)
//   y[c] = x[c] · s[c]^(−β)
//   dx[i] = dy[i]·s[i]^(−β) − 2αβ·x[i]·Σ_{c ∈ N(i)} dy[c]·x[c]·s[c]^(−β−1)   (N is symmetric)
// Options: size n (odd, default 5), alpha (1e-4), beta (0.75), k (2) — the paper's values and
// form. Caffe divides α by n; to reproduce a Caffe model, pass alpha / size.
#pragma once

#include <vector>

#include "nn/layer.hpp"

namespace kiln::nn {

struct LrnOptions {
  std::int64_t size = 5;
  float alpha = 1e-4f;
  float beta = 0.75f;
  float k = 2.f;
};

class LocalResponseNorm final : public Layer {
 public:
  explicit LocalResponseNorm(LrnOptions options);
  static constexpr std::string_view kType = "lrn";

  std::string_view type() const override { return kType; }
  Shape build(const Shape& input) override { return input.with_n(1); }
  void forward(const Tensor& x, Tensor& y, const StepContext& ctx) override;
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx) override;
  Json config() const override;
  static std::unique_ptr<Layer> from_json(LayerOptions& options);

 private:
  LrnOptions options_;
  std::vector<float> scale_;  // s of the last forward, like x
};

}  // namespace kiln::nn
