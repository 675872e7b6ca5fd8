#include "pipeline/transforms/pca_lighting.hpp"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>

#include "nn/error.hpp"

namespace kiln::pipeline {

PcaBasis pca_basis(const std::vector<double>& covariance) {
  if (covariance.size() != 9) {
    throw Error("pca_lighting: needs a 3x3 RGB covariance, got " +
                std::to_string(covariance.size()) + " values");
  }
  Eigen::Matrix3d c;
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) c(a, b) = covariance[static_cast<std::size_t>(a * 3 + b)];
  if (!c.isApprox(c.transpose(), 1e-9))
    throw Error("pca_lighting: the covariance is not symmetric");
  // Eigen returns the eigenvalues in increasing order; kiln lists the largest first.
  const Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> solver(c);
  PcaBasis basis;
  for (int i = 0; i < 3; ++i) {
    const int k = 2 - i;
    basis.stddev[static_cast<std::size_t>(i)] =
        static_cast<float>(std::sqrt(std::max(solver.eigenvalues()(k), 0.0)));
    Eigen::Vector3d v = solver.eigenvectors().col(k);
    if (v(0) + v(1) + v(2) < 0) v = -v;  // a fixed sign, so a refit gives the same basis
    for (int j = 0; j < 3; ++j)
      basis.vectors[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)] =
          static_cast<float>(v(j));
  }
  return basis;
}

PcaLighting::PcaLighting(float alpha_std, PcaBasis fitted) : sigma(alpha_std), basis(fitted) {
  validate();
}

PcaLighting PcaLighting::from_json(StageOptions& o) {
  PcaLighting t;
  o.read("sigma", t.sigma);
  const Json* values = o.find("eigenvalues");
  const Json* vectors = o.find("eigenvectors");
  if (values == nullptr || vectors == nullptr) {
    throw Error(
        "stage 'pca_lighting': needs eigenvalues and eigenvectors; kiln train fits them on the "
        "training set when both are left out");
  }
  auto three_numbers = [](const Json& j) {
    return j.is_array() && j.size() == 3 &&
           std::all_of(j.begin(), j.end(), [](const Json& x) { return x.is_number(); });
  };
  if (!three_numbers(*values)) o.fail("eigenvalues", "3 numbers");
  if (!vectors->is_array() || vectors->size() != 3 ||
      !std::all_of(vectors->begin(), vectors->end(), three_numbers)) {
    o.fail("eigenvectors", "3 lists of 3 numbers (one component per row, RGB)");
  }
  for (std::size_t i = 0; i < 3; ++i) {
    t.basis.stddev[i] = (*values)[i].get<float>();
    for (std::size_t c = 0; c < 3; ++c) t.basis.vectors[i][c] = (*vectors)[i][c].get<float>();
  }
  t.validate();
  return t;
}

void PcaLighting::validate() const {
  if (!(sigma >= 0.f && sigma <= 10.f))
    throw Error("pca_lighting: sigma must be in [0, 10], got " + std::to_string(sigma));
  for (const float l : basis.stddev) {
    if (!(l >= 0.f && l <= 255.f))
      throw Error(
          "pca_lighting: eigenvalues (standard deviations, 0..255 scale) must be in "
          "[0, 255], got " +
          std::to_string(l));
  }
  // Components of unit vectors; a huge one (found by fuzz_augment: 1e39) made the shift infinite.
  for (const auto& vector : basis.vectors) {
    for (const float v : vector) {
      if (!(v >= -1.f && v <= 1.f))
        throw Error("pca_lighting: eigenvector components must be in [-1, 1] (unit vectors), got " +
                    std::to_string(v));
    }
  }
}

ChannelTable PcaLighting::table(const Draw& d, int channels) const {
  if (channels != 3) {
    throw Error("pca_lighting: needs RGB images, got " + std::to_string(channels) +
                " channel(s); drop the stage for greyscale data");
  }
  float delta[3] = {0.f, 0.f, 0.f};
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t c = 0; c < 3; ++c)
      delta[c] += d.alpha[i] * basis.stddev[i] * basis.vectors[i][c];
  // Every pixel moves by the same offset, so one lookup table per channel does it:
  // round(v + δ) = v + floor(δ + 0.5) for v + δ >= 0, and both sides clamp to 0 below.
  ChannelTable table;
  table.channels = 3;
  for (std::size_t c = 0; c < 3; ++c) {
    const long shift = static_cast<long>(std::floor(delta[c] + 0.5f));
    for (long v = 0; v < 256; ++v)
      table.values[c][static_cast<std::size_t>(v)] =
          static_cast<std::uint8_t>(std::clamp(v + shift, 0L, 255L));
  }
  return table;
}

void PcaLighting::apply(const Draw& d, cv::Mat& image) const {
  if (d == Draw{}) return;
  table(d, image.channels()).apply(image);
}

Json PcaLighting::to_json() const {
  Json vectors = Json::array();
  for (const auto& v : basis.vectors) vectors.push_back({v[0], v[1], v[2]});
  return {{"sigma", sigma},
          {"eigenvalues", {basis.stddev[0], basis.stddev[1], basis.stddev[2]}},
          {"eigenvectors", vectors}};
}

Json with_fitted_pca(Json stages, const std::vector<double>& covariance,
                     const std::string& dataset) {
  if (!stages.is_array()) return stages;
  for (Json& stage : stages) {
    if (!stage.is_object() || stage.value("type", "") != "pca_lighting" ||
        stage.contains("eigenvalues")) {
      continue;
    }
    if (covariance.size() != 9) {
      throw Error(dataset + ": pca_lighting needs the RGB covariance of the training set, which " +
                  (covariance.empty() ? "this file lacks; re-run kiln preprocess"
                                      : "exists only for 3-channel data") +
                  " (or give eigenvalues and eigenvectors in the stage)");
    }
    const Json fitted = PcaLighting(0.1f, pca_basis(covariance)).to_json();
    stage["eigenvalues"] = fitted.at("eigenvalues");
    stage["eigenvectors"] = fitted.at("eigenvectors");
  }
  return stages;
}

}  // namespace kiln::pipeline
