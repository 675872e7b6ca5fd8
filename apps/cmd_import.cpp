// kiln import: a network trained elsewhere (ONNX) as a kiln model file, with the preprocessing it
// expects (io/onnx_import.hpp, pipeline/jobs/model_import.hpp).
#include <cstdio>
#include <fstream>
#include <memory>

#include "apps/commands.hpp"
#include "apps/validators.hpp"
#include "io/onnx_import.hpp"
#include "pipeline/jobs/model_import.hpp"

namespace kiln::apps {
namespace {

struct ImportFlags {
  std::string source, output, channel_order = "RGB";
  std::vector<std::int64_t> input;
  std::vector<std::string> class_names;
  pipeline::ImportedPreprocessing pre;
};

// --class-names a b c, or one file with a name per line (ImageNet's 1000).
std::vector<std::string> read_class_names(const std::vector<std::string>& given) {
  if (given.size() != 1 || !std::filesystem::is_regular_file(given[0])) return given;
  std::ifstream in(given[0]);
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  if (names.empty()) throw Error(given[0] + ": no class names in the file (one per line)");
  return names;
}

}  // namespace

void add_import_command(CLI::App& app) {
  auto f = std::make_shared<ImportFlags>();
  CLI::App* cmd = app.add_subcommand(
      "import",
      "Make a kiln model file from an ONNX network (e.g. torch.onnx.export of a torchvision "
      "model), with the preprocessing it was trained with, to evaluate, predict or fine-tune.");
  cmd->add_option("source", f->source, "ONNX file (.onnx)")->required()->check(existing_file());
  cmd->add_option("-o,--output", f->output, "Model file to write (.h5, replaced atomically)")
      ->required();
  cmd->add_option("--input", f->input, "C H W the network takes (default: the ONNX input's)")
      ->expected(3);
  cmd->add_option("--class-names", f->class_names,
                  "Names of the outputs, or one file with a name per line (default: 0, 1, ...)")
      ->expected(1, 1 << 20);
  cmd->add_option("--mean", f->pre.mean, "Per-channel mean subtracted (default 0)")->expected(1, 3);
  cmd->add_option("--std", f->pre.std, "Per-channel std divided by (default 1)")->expected(1, 3);
  cmd->add_option("--pixel-scale", f->pre.pixel_scale,
                  "The pixel range mean and std are stated on: 1 (0..1, torchvision) or 255 "
                  "(0..255, Caffe)")
      ->check(CLI::IsMember({1.f, 255.f}));
  cmd->add_option("--channel-order", f->channel_order,
                  "The channel order the network takes: RGB, BGR (Caffe; kiln reorders the "
                  "first layers' weights) or L")
      ->check(CLI::IsMember({"RGB", "BGR", "L"}));
  cmd->add_option("--resize", f->pre.resize,
                  "Short side images are resized to before the centre crop (torchvision's "
                  "Resize; default: the input size)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--crop", f->pre.crop, "The centre crop (default: the input size)")
      ->check(CLI::PositiveNumber);
  cmd->callback([f] {
    io::OnnxImportOptions options;
    if (!f->input.empty()) options.input = nn::Shape{1, f->input[0], f->input[1], f->input[2]};
    options.bgr_input = f->channel_order == "BGR";
    nn::Model model = io::import_onnx(f->source, options);
    f->pre.channel_order = f->channel_order == "L" ? "L" : "RGB";
    if (options.bgr_input) {  // stated in the network's order; kiln's is RGB
      std::reverse(f->pre.mean.begin(), f->pre.mean.end());
      std::reverse(f->pre.std.begin(), f->pre.std.end());
    }
    pipeline::save_imported_model(model, f->pre, read_class_names(f->class_names), f->output);
    std::printf("%sImported %s: %lld parameters, %zu layers, input %s -> %s\n",
                model.summary().c_str(), f->source.c_str(),
                static_cast<long long>(model.parameter_count()), model.size(),
                model.input_shape().str().c_str(), f->output.c_str());
  });
}

}  // namespace kiln::apps
