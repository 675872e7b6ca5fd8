// kiln import: a network trained elsewhere (ONNX, or Keras HDF5 weights) as a kiln model file,
// with the preprocessing it expects (io/interop/onnx_import.hpp, io/interop/keras_weights.hpp,
// pipeline/inference/model_import.hpp).
#include <cstdio>
#include <fstream>
#include <memory>

#include "apps/shared/commands.hpp"
#include "apps/shared/validators.hpp"
#include "io/interop/keras_config.hpp"
#include "io/interop/keras_weights.hpp"
#include "nn/model/zoo.hpp"
#include "pipeline/inference/model_import.hpp"
#ifdef KILN_HAVE_ONNX
#include "io/interop/onnx_import.hpp"
#endif

namespace kiln::apps {
namespace {

struct ImportFlags {
  std::string source, output, channel_order;  // "": L for one input channel, else RGB
  std::string task;                           // "": the file's, else classification
  std::string zoo_model, model_json;          // Keras weights: the architecture
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

bool is_onnx(const std::string& path) { return path.ends_with(".onnx"); }

Json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open the file");
  try {
    return Json::parse(in);
  } catch (const Json::exception& e) {
    throw Error(path + ": not JSON: " + e.what());
  }
}

// A Keras weight file onto the architecture given by --model (kiln's zoo, matched in order),
// --model-json or the file's own model_config (matched by layer name).
nn::Model import_keras(const ImportFlags& f) {
  Json config;
  if (!f.zoo_model.empty()) {
    if (f.input.empty()) throw ConfigError("--model " + f.zoo_model + " needs --input C H W");
    const nn::Shape in{1, f.input[0], f.input[1], f.input[2]};
    config = nn::builtin_model(f.zoo_model, in, io::keras_output_units(f.source), Json::object());
  } else {
    const Json keras =
        f.model_json.empty() ? io::keras_model_config(f.source) : read_json_file(f.model_json);
    if (keras.is_null()) {
      throw ConfigError(f.source +
                        ": holds weights only; give the architecture with --model "
                        "NAME (kiln's zoo) or --model-json FILE (Keras' model.to_json())");
    }
    config = io::kiln_config_from_keras(keras, f.model_json.empty() ? f.source : f.model_json);
    if (!f.input.empty()) config["input"] = f.input;
  }
  nn::Model model = nn::Model::from_config(config);
  io::load_keras_weights(f.source, model);
  return model;
}

nn::Model import_network(ImportFlags& f) {
  if (!is_onnx(f.source)) return import_keras(f);
#ifdef KILN_HAVE_ONNX
  io::OnnxImportOptions options;
  if (!f.input.empty()) options.input = nn::Shape{1, f.input[0], f.input[1], f.input[2]};
  options.bgr_input = f.channel_order == "BGR";
  io::OnnxInputAffine affine;
  options.input_affine = &affine;
  nn::Model model = io::import_onnx(f.source, options);
  f.pre.input_scale = affine.scale;
  f.pre.input_shift = affine.shift;
  return model;
#else
  throw Error(f.source + ": this kiln was built without libonnx-dev; install it and rebuild");
#endif
}

// The task the outputs serve: --task, else what a kiln ONNX export records, else classification.
nn::Task imported_task(const ImportFlags& f) {
  if (!f.task.empty()) return nn::task_from_name(f.task);
  if (!is_onnx(f.source)) return nn::Task::kClassification;
#ifdef KILN_HAVE_ONNX
  return io::onnx_task(f.source);
#else
  throw Error(f.source + ": this kiln was built without libonnx-dev; install it and rebuild");
#endif
}

}  // namespace

void add_import_command(CLI::App& app) {
  auto f = std::make_shared<ImportFlags>();
  CLI::App* cmd = app.add_subcommand(
      "import",
      "Make a kiln model file from an ONNX network (e.g. torch.onnx.export of a torchvision "
      "model) or Keras HDF5 weights, with the preprocessing it was trained with, to evaluate, "
      "predict or fine-tune.");
  cmd->add_option("source", f->source, "ONNX file (.onnx) or Keras weights (.h5)")
      ->required()
      ->check(existing_file());
  cmd->add_option("--model", f->zoo_model,
                  "Keras weights: the kiln zoo model they fit (matched layer by layer in order)")
      ->check(CLI::IsMember(nn::builtin_model_names()));
  cmd->add_option("--model-json", f->model_json,
                  "Keras weights: the Keras model config (model.to_json()); default: the one a "
                  "model.save file carries")
      ->check(existing_file());
  cmd->add_option("-o,--output", f->output, "Model file to write (.h5, replaced atomically)")
      ->required();
  cmd->add_option("--input", f->input, "C H W the network takes (default: the ONNX input's)")
      ->expected(3);
  cmd->add_option("--class-names", f->class_names,
                  "Names of the outputs, or one file with a name per line (default: 0, 1, ...)")
      ->expected(1, 1 << 20);
  cmd->add_option("--task", f->task,
                  "What the outputs mean: classification, multi_label (an independent "
                  "probability per class) or regression (values); default: what a kiln export "
                  "records, else classification")
      ->check(CLI::IsMember(nn::task_names()));
  cmd->add_option("--mean", f->pre.mean, "Per-channel mean subtracted (default 0)")->expected(1, 3);
  cmd->add_option("--std", f->pre.std, "Per-channel std divided by (default 1)")->expected(1, 3);
  cmd->add_option("--pixel-scale", f->pre.pixel_scale,
                  "The pixel range mean and std are stated on: 1 (0..1, torchvision) or 255 "
                  "(0..255, Caffe)")
      ->check(CLI::IsMember({1.f, 255.f}));
  cmd->add_option("--channel-order", f->channel_order,
                  "The channel order the network takes: RGB, BGR (Caffe; kiln reorders the "
                  "first layers' weights) or L (default: L for one input channel, RGB for three)")
      ->check(CLI::IsMember({"RGB", "BGR", "L"}));
  cmd->add_option("--resize", f->pre.resize,
                  "Short side images are resized to before the centre crop (torchvision's "
                  "Resize; default: the input size)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--crop", f->pre.crop, "The centre crop (default: the input size)")
      ->check(CLI::PositiveNumber);
  cmd->callback([f] {
    nn::Model model = import_network(*f);
    const bool grey = model.input_shape().c == 1;
    if (!f->channel_order.empty() && (f->channel_order == "L") != grey) {
      throw ConfigError("--channel-order " + f->channel_order + ": the network takes " +
                        std::to_string(model.input_shape().c) + " channels; use " +
                        (grey ? "L" : "RGB or BGR") + ", or leave the flag out");
    }
    if (f->channel_order.empty()) f->channel_order = grey ? "L" : "RGB";
    f->pre.channel_order = f->channel_order == "L" ? "L" : "RGB";
    if (f->channel_order == "BGR") {  // stated in the network's order; kiln's is RGB
      if (!is_onnx(f->source)) throw ConfigError("--channel-order BGR: for ONNX networks only");
      std::reverse(f->pre.mean.begin(), f->pre.mean.end());
      std::reverse(f->pre.std.begin(), f->pre.std.end());
    }
    f->pre.task = imported_task(*f);
    pipeline::save_imported_model(model, f->pre, read_class_names(f->class_names), f->output);
    std::printf("%sImported %s: %lld parameters, %zu layers, input %s -> %s\n",
                model.summary().c_str(), f->source.c_str(),
                static_cast<long long>(model.parameter_count()), model.size(),
                model.input_shape().str().c_str(), f->output.c_str());
  });
}

}  // namespace kiln::apps
