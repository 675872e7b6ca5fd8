// kiln predict: the most likely classes of image files, with the model's own preprocessing.
#include <cstdio>
#include <memory>

#include "apps/commands.hpp"
#include "nn/error.hpp"
#include "pipeline/predictor.hpp"

namespace kiln::apps {

void add_predict_command(CLI::App& app) {
  struct Flags {
    std::string model;
    std::vector<std::string> images;
    int top_k = 3;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand("predict",
                                     "Print the top classes with probabilities for image files, "
                                     "preprocessed as the model was trained.");
  cmd->add_option("model", f->model, "Model file (.h5 from kiln train)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("images", f->images, "Image files")->required();
  cmd->add_option("--top-k", f->top_k, "How many classes to print per image")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->callback([f] {
    int failed = 0;
    for (const pipeline::Prediction& p : pipeline::predict_images(f->model, f->images, f->top_k)) {
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
      throw Error(std::to_string(failed) + " of " + std::to_string(f->images.size()) +
                  " images could not be read");
  });
}

}  // namespace kiln::apps
