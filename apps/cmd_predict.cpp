// kiln predict: the most likely classes of image files, with the model's own preprocessing; with
// several models, their ensemble.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "apps/shared/commands.hpp"
#include "apps/shared/scales_flag.hpp"
#include "apps/shared/validators.hpp"
#include "nn/error.hpp"
#include "pipeline/inference/predictor.hpp"

namespace kiln::apps {

void add_predict_command(CLI::App& app) {
  auto f = std::make_shared<pipeline::PredictRequest>();
  CLI::App* cmd = app.add_subcommand("predict",
                                     "Print the top classes with probabilities for image files, "
                                     "preprocessed as the model was trained.");
  auto positionals = std::make_shared<std::vector<std::string>>();
  cmd->add_option("models_and_images", *positionals,
                  "MODEL... IMAGE...: one or more model files (.h5 from kiln train; several are "
                  "an ensemble), then image files")
      ->required()
      ->expected(2, 1 << 20);
  cmd->add_option("--threshold", f->threshold,
                  "multi_label models: print every class at this probability or above")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--top-k", f->top_k, "How many classes to print per image")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--crops", f->views.crops,
                  "Views per scale, averaged: 1, 5 (corners + centre) or 10 (and mirrors); as in "
                  "kiln evaluate")
      ->check(CLI::IsMember(
          std::vector<int>(std::begin(pipeline::kCropCounts), std::end(pipeline::kCropCounts))))
      ->capture_default_str();
  auto scales = std::make_shared<ScalesFlag>();
  scales->add_to(cmd);
  cmd->add_option("--padding", f->views.padding, "Padding around each scaled image before cropping")
      ->check(CLI::Range(0, 1 << 12));
  cmd->callback([f, positionals, scales] {
    scales->apply(f->views.scales, f->views.auto_scales);
    // The leading .h5 files are the models; the images follow.
    const auto first_image = std::find_if(
        positionals->begin(), positionals->end(),
        [](const std::string& p) { return std::filesystem::path(p).extension() != ".h5"; });
    f->model_paths.assign(positionals->begin(), first_image);
    f->paths.assign(first_image, positionals->end());
    if (f->model_paths.empty()) {
      throw Error(positionals->front() + ": expected a model file (.h5 from kiln train) first");
    }
    if (f->paths.empty()) throw Error("no image files after the model file(s)");
    for (const std::string& model : f->model_paths) {
      if (!std::filesystem::is_regular_file(model)) throw Error(model + ": no such model file");
    }
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
      if (p.task == nn::Task::kMultiLabel && p.top.empty())
        std::printf("  (no class at %.2f or above)", f->threshold);
      std::printf("\n");
    }
    if (failed > 0)
      throw Error(std::to_string(failed) + " of " + std::to_string(f->paths.size()) +
                  " images could not be read");
  });
}

}  // namespace kiln::apps
