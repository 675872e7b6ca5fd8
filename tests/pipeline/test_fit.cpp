// ZCA whitening: the fitted W whitens its training data, the same for any thread count, and is
// stored in the dataset file (atomically) where training finds it.
#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <Eigen/Core>

#include "io/dataset_reader.hpp"
#include "io/dataset_writer.hpp"
#include "nn/error.hpp"
#include "nn/random.hpp"
#include "pipeline/dataset/fit.hpp"
#include "pipeline/normalize.hpp"
#include "pipeline/pack.hpp"
#include "tests/support/temp_dir.hpp"

namespace kiln::pipeline {
namespace {

// 300 images of 4×4 grey whose pixels are strongly correlated: a shared level plus noise.
void write_correlated(const std::string& path) {
  io::DatasetSpec spec;
  spec.height = 4;
  spec.width = 4;
  spec.channels = 1;
  spec.class_names = {"a", "b"};
  io::DatasetWriter writer(path, spec);
  std::vector<std::uint8_t> images;
  std::vector<std::int32_t> labels;
  for (std::uint64_t i = 0; i < 300; ++i) {
    nn::Rng rng({9, 0, i, 1});
    const float level = rng.uniform(40.f, 200.f);
    for (int k = 0; k < 16; ++k)
      images.push_back(static_cast<std::uint8_t>(level + rng.uniform(-30.f, 30.f) + 2.f * k));
    labels.push_back(static_cast<std::int32_t>(i % 2));
  }
  writer.append(images, labels);
  writer.commit();
}

TEST(Zca, WhitensItsTrainingDataAndIsThreadIndependent) {
  testing::TempDir dir;
  const std::string path = dir.file("d.h5");
  write_correlated(path);
  ZcaFit one, two;
  {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 1);
    one = fit_zca(path, 1e-6);
  }
  {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 2);
    two = fit_zca(path, 1e-6);
  }
  EXPECT_EQ(one.whitening, two.whitening);
  ASSERT_EQ(one.whitening.size(), 256u);
  EXPECT_GT(one.eigenvalues.front(), 10 * one.eigenvalues.back());  // correlated: one big component

  // Whitened through pack_image exactly as training does, the data's covariance is the identity.
  fit_and_store_zca(path, 1e-6);
  const io::DatasetReader data(path);
  ASSERT_EQ(data.statistics().zca.size(), 256u);
  EXPECT_DOUBLE_EQ(data.statistics().zca_epsilon, 1e-6);
  const Normalization norm = Normalization::from_statistics(data.statistics(), "L", "zca");
  Eigen::MatrixXd y(300, 16);
  for (std::int64_t i = 0; i < 300; ++i) {
    const cv::Mat image = data.read_mat(i);
    std::vector<float> out(16);
    pack_image(image, norm, out);
    for (int k = 0; k < 16; ++k) y(i, k) = out[static_cast<std::size_t>(k)];
  }
  const Eigen::RowVectorXd mean = y.colwise().mean();
  const Eigen::MatrixXd centred = y.rowwise() - mean;
  const Eigen::MatrixXd covariance = centred.transpose() * centred / 300.0;
  EXPECT_LT((covariance - Eigen::MatrixXd::Identity(16, 16)).cwiseAbs().maxCoeff(), 1e-3);
  EXPECT_LT(mean.cwiseAbs().maxCoeff(), 1e-4);
  EXPECT_EQ(data.size(), 300);  // the rest of the file is intact
}

TEST(Zca, RefusesWhatItCannotFit) {
  testing::TempDir dir;
  write_correlated(dir.file("d.h5"));
  EXPECT_THROW(fit_zca(dir.file("d.h5"), 0.0), Error);
  // Without a fit, the zca mode says which command makes one.
  const io::DatasetReader data(dir.file("d.h5"));
  try {
    Normalization::from_statistics(data.statistics(), "L", "zca");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("kiln fit"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln::pipeline
