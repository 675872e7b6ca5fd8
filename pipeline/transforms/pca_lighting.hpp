// PcaLighting: AlexNet's colour augmentation (Krizhevsky et al. 2012, §4.2): every pixel of an RGB
// image moves by the same colour offset along the principal components of the training set's
// pixel colours,
//   Δ = Σᵢ αᵢ λᵢ pᵢ,   αᵢ ~ N(0, sigma), drawn once per image;
//   eval: α = 0, the identity.
// Convention for λ: the standard deviation of the pixels along pᵢ (the square root of the
// covariance eigenvalue), on the stored 0..255 scale. fb.resnet.torch's ImageNet values
// (0.2175, 0.0188, 0.0045 on a 0..1 scale) are these, so ImageNet's are [55.46, 4.79, 1.15].
// kiln train fills in λ and p fitted on the training set (pca_basis) when the stage omits them.
// Results are rounded and clamped to [0, 255]. RGB images only.
#pragma once

#include <array>
#include <opencv2/core.hpp>
#include <string_view>
#include <vector>

#include "nn/json.hpp"
#include "nn/random.hpp"
#include "pipeline/channel_table.hpp"
#include "pipeline/stage_options.hpp"

namespace kiln::pipeline {

struct PcaBasis {
  std::array<float, 3> stddev{};                  // λ, largest first
  std::array<std::array<float, 3>, 3> vectors{};  // p: vectors[i] is the i-th component (RGB)
};

// The principal components of a 3×3 RGB covariance (row-major). Throws kiln::Error for another
// size or a covariance that is not symmetric.
PcaBasis pca_basis(const std::vector<double>& covariance);

struct PcaLighting {
  static constexpr std::string_view kName = "pca_lighting";
  static constexpr std::string_view kSummary =
      "AlexNet: one colour offset along the training set's principal components, scaled by "
      "N(0, sigma) draws; eval: identity";
  // fb.resnet.torch's ImageNet basis; kiln train fits the training set's when both are left out.
  static constexpr std::string_view kExample =
      R"({"sigma": 0.1, "eigenvalues": [55.46, 4.79, 1.15], "eigenvectors": [[-0.5675, -0.5808, -0.5836], [0.7192, -0.0045, -0.6948], [0.4009, -0.8140, 0.4203]]})";
  float sigma = 0.1f;
  PcaBasis basis;

  struct Draw {
    std::array<float, 3> alpha{};
    bool operator==(const Draw&) const = default;
  };

  PcaLighting() = default;
  PcaLighting(float alpha_std, PcaBasis fitted);
  // Needs eigenvalues and eigenvectors (kiln train fills them in, see with_fitted_pca).
  static PcaLighting from_json(StageOptions& options);
  Json to_json() const;
  void validate() const;
  Draw draw(cv::Size /*size*/, nn::Rng& rng) const {
    Draw d;
    for (float& a : d.alpha) a = rng.normal(0.f, sigma);
    return d;
  }
  Draw eval(cv::Size /*size*/) const { return {}; }
  void apply(const Draw& d, cv::Mat& image) const;
  ChannelTable table(const Draw& d, int channels) const;  // what apply() does, as a table
};

// The stage list with every pca_lighting stage that has no "eigenvalues" given the basis fitted
// from `covariance` (the training set's). Throws kiln::Error naming `dataset` when a stage needs
// the fit and the dataset has no covariance.
Json with_fitted_pca(Json stages, const std::vector<double>& covariance,
                     const std::string& dataset);

}  // namespace kiln::pipeline
