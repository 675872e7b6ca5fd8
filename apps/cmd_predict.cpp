// kiln predict: the most likely classes of image files, with the model's own preprocessing.
#include <cstdio>
#include <memory>

#include "apps/commands.hpp"
#include "apps/validators.hpp"
#include "nn/error.hpp"
#include "pipeline/jobs/predictor.hpp"

namespace kiln::apps {

void add_predict_command(CLI::App& app) {
  auto f = std::make_shared<pipeline::PredictRequest>();
  CLI::App* cmd = app.add_subcommand("predict",
                                     "Print the top classes with probabilities for image files, "
                                     "preprocessed as the model was trained.");
  cmd->add_option("model", f->model_path, "Model file (.h5 from kiln train)")
      ->required()
      ->check(existing_file());
  cmd->add_option("images", f->paths, "Image files")->required();
  cmd->add_option("--top-k", f->top_k, "How many classes to print per image")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--crops", f->crops,
                  "Views per scale, averaged: 1, 5 (corners + centre) or 10 (and mirrors); as in "
                  "kiln evaluate")
      ->check(CLI::IsMember({1, 5, 10}))
      ->capture_default_str();
  cmd->add_option("--scales", f->scales, "Short sides for the views (default: the model's)")
      ->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--padding", f->padding, "Padding around each scaled image before cropping")
      ->check(CLI::Range(0, 1 << 12));
  cmd->callback([f] {
    int failed = 0;
    for (const pipeline::Prediction& p : pipeline::predict_images(*f)) {
      if (!p.error.empty()) {
        std::fprintf(stderr, "kiln predict: %s: %s\n", p.path.c_str(), p.error.c_str());
        ++failed;
        continue;
      }
      std::printf("%s", p.path.c_str());
      for (const auto& [name, probability] : p.top)
        std::printf("  %s %.4f", name.c_str(), probability);
      std::printf("\n");
    }
    if (failed > 0)
      throw Error(std::to_string(failed) + " of " + std::to_string(f->paths.size()) +
                  " images could not be read");
  });
}

}  // namespace kiln::apps
