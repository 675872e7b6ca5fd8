// fit_zca: Keras' ZCA whitening (featurewise_zca_whitening), fitted on a fixed-size kiln dataset
// in one streaming pass and stored in the file's /normalization group (`kiln fit DATA --zca EPS`).
//   x = pixels / 255, flattened in HWC order (D = H·W·C values), μ = the mean image / 255
//   Σ = (1/N) Σᵢ xᵢ xᵢᵀ − μ μᵀ          (double precision, images streamed in blocks)
//   Σ = U Λ Uᵀ,  W = U (Λ + ε)^(−1/2) Uᵀ (float32, D × D)
// so that W (x − μ) has (nearly) identity covariance on the training set. The products are summed
// in a fixed order (parallel over disjoint column blocks of Σ), so the result does not depend on
// the thread count. D is limited to 4096 (CIFAR's 3072): W has D² entries and costs D² per image.
// The file is rewritten atomically: a copy gets the new arrays and is renamed over the original.
#pragma once

#include <string>
#include <vector>

namespace kiln::pipeline {

struct ZcaFit {
  std::vector<float> whitening;     // D × D, row-major
  std::vector<double> eigenvalues;  // of Σ, largest first
  double epsilon = 0.0;
};

// Throws kiln::Error for a variable-size file, D > 4096, or epsilon <= 0.
ZcaFit fit_zca(const std::string& data_path, double epsilon);

// Fits and stores /normalization/zca (and the attribute zca_epsilon) in the file, atomically.
ZcaFit fit_and_store_zca(const std::string& data_path, double epsilon);

}  // namespace kiln::pipeline
