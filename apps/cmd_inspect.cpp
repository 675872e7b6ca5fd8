// kiln inspect: what a kiln dataset or model file holds; for a model, also pictures of its
// filters and of one image's feature maps.
#include <cstdio>
#include <memory>

#include "apps/shared/commands.hpp"
#include "apps/shared/validators.hpp"
#include "io/charts/line_chart.hpp"
#include "io/dataset_reader.hpp"
#include "io/file_format.hpp"
#include "io/model_file.hpp"
#include "nn/error.hpp"
#include "pipeline/inference/model_pictures.hpp"

namespace kiln::apps {
namespace {

struct InspectCommandLine {
  std::string path;
  std::string filters;      // PNG to write the filters to
  std::string activations;  // image file whose feature maps to draw
  std::string layer;        // "": the first conv2d (filters); required for activations
  std::string output = "activations.png";
};

void draw_pictures(const InspectCommandLine& x) {
  if (!x.filters.empty()) {
    io::ModelBundle bundle = io::load_model(x.path);
    const cv::Mat grid = pipeline::filter_grid(bundle.model, x.layer);
    io::write_png(x.filters, grid);
    std::printf("wrote %s: %s filters\n", x.filters.c_str(),
                x.layer.empty() ? "the first convolution's" : (x.layer + "'s").c_str());
  }
  if (!x.activations.empty()) {
    if (x.layer.empty())
      throw ConfigError("--activations needs --layer NAME (kiln inspect MODEL lists them)");
    io::write_png(x.output, pipeline::image_activation_grid(x.path, x.activations, x.layer));
    std::printf("wrote %s: the feature maps of %s at %s\n", x.output.c_str(), x.activations.c_str(),
                x.layer.c_str());
  }
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto x = std::make_shared<InspectCommandLine>();
  CLI::App* cmd = app.add_subcommand("inspect",
                                     "Print a dataset file's schema, images per class, "
                                     "normalization statistics and skipped inputs; or a model "
                                     "file's layers, training state and preprocessing, and draw "
                                     "its filters or an image's feature maps.");
  cmd->add_option("file", x->path, "Dataset (from kiln preprocess) or model (from kiln train)")
      ->required()
      ->check(existing_file());
  cmd->add_option("--filters", x->filters,
                  "Model: draw a convolution's filters into this PNG (the first conv2d, in colour "
                  "for RGB input; another with --layer, a greyscale tile per input channel)");
  cmd->add_option("--activations", x->activations,
                  "Model: draw the feature maps of --layer for this image file, preprocessed as "
                  "kiln predict does, into -o")
      ->check(existing_file());
  cmd->add_option("--layer", x->layer, "Layer name for --filters and --activations");
  cmd->add_option("-o,--output", x->output, "PNG for --activations")->capture_default_str();
  cmd->callback([x] {
    const bool model = io::file_format_of(x->path) == "kiln-model";
    if (!x->filters.empty() || !x->activations.empty()) {
      if (!model)
        throw ConfigError(x->path +
                          " is not a model file; --filters and --activations draw a model's");
      draw_pictures(*x);
      return;
    }
    if (model) {
      std::printf("%s", io::describe_model(x->path).c_str());
      return;
    }
    const io::DatasetReader reader(x->path);  // names what is wrong with anything else
    std::printf("%s", io::describe_dataset(reader).c_str());
  });
}

}  // namespace kiln::apps
