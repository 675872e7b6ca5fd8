#include "pipeline/dataset/fit.hpp"

#include <tbb/parallel_for.h>

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <filesystem>

#include "io/atomic_file.hpp"
#include "io/dataset_reader.hpp"
#include "io/h5.hpp"
#include "nn/error.hpp"

namespace kiln::pipeline {

namespace {
constexpr std::int64_t kMaxValues = 4096;
constexpr std::int64_t kBlockImages = 256;
}  // namespace

ZcaFit fit_zca(const std::string& data_path, double epsilon) {
  if (!(epsilon > 0.0))
    throw Error("--zca: epsilon must be > 0, e.g. 0.1, got " + std::to_string(epsilon));
  const io::DatasetReader data(data_path);
  if (data.ragged()) {
    throw Error(data_path + ": ZCA needs images of one size; preprocess with --size HxW");
  }
  const std::int64_t d = data.image_bytes();
  if (d > kMaxValues) {
    throw Error(data_path + ": ZCA is for small images (at most " + std::to_string(kMaxValues) +
                " values per image); these have " + std::to_string(d) + ", so W would have " +
                std::to_string(d * d) + " entries. Use mean_image instead");
  }
  const std::int64_t n = data.size();
  Eigen::MatrixXd products = Eigen::MatrixXd::Zero(d, d);
  Eigen::VectorXd sum = Eigen::VectorXd::Zero(d);
  std::vector<std::uint8_t> raw(static_cast<std::size_t>(kBlockImages * d));
  Eigen::MatrixXd block(kBlockImages, d);
  for (std::int64_t first = 0; first < n; first += kBlockImages) {
    const std::int64_t count = std::min(kBlockImages, n - first);
    data.read_images(first, count, {raw.data(), static_cast<std::size_t>(count * d)});
    for (std::int64_t i = 0; i < count; ++i)
      for (std::int64_t k = 0; k < d; ++k)
        block(i, k) = raw[static_cast<std::size_t>(i * d + k)] / 255.0;
    const auto rows = block.topRows(count);
    sum += rows.colwise().sum().transpose();
    // Disjoint column blocks: every entry is summed in the same order whatever the threads.
    const std::int64_t step = 64;
    tbb::parallel_for(std::int64_t{0}, (d + step - 1) / step, [&](std::int64_t b) {
      const std::int64_t c0 = b * step, width = std::min(step, d - c0);
      products.middleCols(c0, width).noalias() += rows.transpose() * rows.middleCols(c0, width);
    });
  }
  const Eigen::VectorXd mean = sum / static_cast<double>(n);
  Eigen::MatrixXd covariance = products / static_cast<double>(n) - mean * mean.transpose();
  covariance = (covariance + covariance.transpose()) / 2.0;  // exactly symmetric
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(covariance);
  const Eigen::VectorXd lambda = solver.eigenvalues().cwiseMax(0.0);
  const Eigen::MatrixXd& u = solver.eigenvectors();
  const Eigen::MatrixXd w =
      u * (lambda.array() + epsilon).rsqrt().matrix().asDiagonal() * u.transpose();
  ZcaFit fit;
  fit.epsilon = epsilon;
  fit.whitening.resize(static_cast<std::size_t>(d * d));
  for (std::int64_t r = 0; r < d; ++r)
    for (std::int64_t c = 0; c < d; ++c)
      fit.whitening[static_cast<std::size_t>(r * d + c)] = static_cast<float>(w(r, c));
  for (std::int64_t i = d - 1; i >= 0; --i) fit.eigenvalues.push_back(lambda(i));
  return fit;
}

ZcaFit fit_and_store_zca(const std::string& data_path, double epsilon) {
  ZcaFit fit = fit_zca(data_path, epsilon);
  const auto d = static_cast<std::uint64_t>(fit.eigenvalues.size());
  io::AtomicFile file(data_path);
  std::error_code copy_error;
  std::filesystem::copy_file(data_path, file.temp_path(),
                             std::filesystem::copy_options::overwrite_existing, copy_error);
  if (copy_error) {
    throw Error(data_path + ": cannot write the fitted statistics: " + copy_error.message());
  }
  {
    io::h5::File f = io::h5::File::open_write(file.temp_path().string(), data_path);
    io::h5::Group norm = f.open_group("normalization");
    if (!norm.exists("mean_image")) {
      throw Error(data_path +
                  ": has no mean image (written by an older kiln); re-run kiln preprocess");
    }
    norm.remove("zca");
    norm.create_dataset("zca", io::h5::Type::kF32, {d, d})
        .write(fit.whitening.data(), io::h5::Type::kF32);
    norm.set_attribute("zca_epsilon", epsilon);
    norm = {};
    f.close();
  }
  file.commit();
  return fit;
}

}  // namespace kiln::pipeline
