// kiln augment-preview: a PNG grid of dataset images and their augmented views, to look at what
// the training stages do before training on them.
#include <cstdio>
#include <memory>

#include "apps/shared/commands.hpp"
#include "apps/shared/stage_list.hpp"
#include "apps/shared/validators.hpp"
#include "io/atomic_file.hpp"
#include "io/opencv_codecs.hpp"
#include "pipeline/training/augment_preview.hpp"
#include "pipeline/training/train_config.hpp"

namespace kiln::apps {

void add_augment_preview_command(CLI::App& app) {
  auto request = std::make_shared<pipeline::PreviewRequest>();
  auto augment = std::make_shared<std::string>();
  auto config = std::make_shared<std::string>();
  auto output = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "augment-preview",
      "Write a PNG grid: dataset images (rows), stored and as training epochs 1..N augment them.");
  cmd->add_option("data", request->data_path, "Dataset (.h5 from kiln preprocess)")
      ->required()
      ->check(existing_file());
  cmd->add_option("-o,--output", *output, "PNG file to write")->required();
  cmd->add_option("--augment", *augment, "Training stages as a JSON list (README: Augmentation)");
  cmd->add_option("--config", *config, "Take the stages (and seed) from a training config")
      ->check(existing_file());
  cmd->add_option("--images", request->images, "Rows: images spread evenly through the file")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  cmd->add_option("--views", request->views, "Augmented columns (training epochs 1..N)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  cmd->add_option("--seed", request->seed, "Seed, as kiln train --seed")->capture_default_str();
  cmd->add_option("--cell", request->cell, "Cell size in pixels")
      ->check(CLI::Range(16, 2048))
      ->capture_default_str();
  cmd->callback([request, augment, config, output] {
    if (!config->empty()) {
      Json c = pipeline::default_train_config();
      pipeline::merge_config(c, pipeline::load_config_file(*config), *config);
      request->stages = c.at("augment");
      if (c.at("seed").is_number_unsigned()) request->seed = c.at("seed").get<std::uint64_t>();
    }
    if (!augment->empty()) request->stages = parse_stage_list(*augment, "--augment");
    const cv::Mat grid = pipeline::render_augment_preview(*request);
    const std::vector<std::uint8_t> png = io::opencv_encode(".png", grid, {}, *output);
    io::write_file_atomically(*output, {reinterpret_cast<const char*>(png.data()), png.size()},
                              "the preview");
    std::printf("wrote %s: %d images x %d views\n", output->c_str(), request->images,
                request->views);
  });
}

}  // namespace kiln::apps
