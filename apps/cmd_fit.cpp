// kiln fit: fit normalization statistics that preprocess does not compute by default (ZCA) and
// store them in the dataset file.
#include <cstdio>
#include <memory>

#include "apps/shared/commands.hpp"
#include "apps/shared/validators.hpp"
#include "pipeline/dataset/fit.hpp"

namespace kiln::apps {

void add_fit_command(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto epsilon = std::make_shared<double>(0.1);
  CLI::App* cmd = app.add_subcommand(
      "fit",
      "Fit the ZCA whitening matrix of a fixed-size dataset (small images) and store it in the "
      "file, for kiln train --set normalization.mode=zca.");
  cmd->add_option("data", *path, "Dataset (.h5 from kiln preprocess --size HxW)")
      ->required()
      ->check(existing_file());
  cmd->add_option("--zca", *epsilon, "Regularizer epsilon added to the eigenvalues")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->callback([path, epsilon] {
    const pipeline::ZcaFit fit = pipeline::fit_and_store_zca(*path, *epsilon);
    std::printf(
        "wrote %s: /normalization/zca, %zux%zu, epsilon %g; largest eigenvalues %.4g %.4g "
        "%.4g\n",
        path->c_str(), fit.eigenvalues.size(), fit.eigenvalues.size(), fit.epsilon,
        fit.eigenvalues.at(0), fit.eigenvalues.size() > 1 ? fit.eigenvalues[1] : 0.0,
        fit.eigenvalues.size() > 2 ? fit.eigenvalues[2] : 0.0);
  });
}

}  // namespace kiln::apps
