// kiln export: a model file as ONNX (io/interop/onnx_export.hpp), for runtimes outside kiln.
#include <cstdio>
#include <memory>

#include "apps/shared/commands.hpp"
#include "apps/shared/validators.hpp"
#include "io/interop/onnx_export.hpp"
#include "io/model_file.hpp"

namespace kiln::apps {

void add_export_command(CLI::App& app) {
  auto model = std::make_shared<std::string>();
  auto output = std::make_shared<std::string>();
  auto options = std::make_shared<io::OnnxExportOptions>();
  CLI::App* cmd = app.add_subcommand(
      "export",
      "Write a model as ONNX (opset 13), with its normalization inside the graph and its class "
      "names and expected input in the metadata; checked by the ONNX checker.");
  cmd->add_option("model", *model, "Model file (.h5 from kiln train)")
      ->required()
      ->check(existing_file());
  cmd->add_option("-o,--output", *output, "ONNX file to write (replaced atomically)")->required();
  cmd->add_flag("--include-preprocessing", options->include_preprocessing,
                "Take uint8 (N, H, W, C) pixels instead of float (N, C, H, W) ones");
  cmd->callback([model, output, options] {
    io::ModelBundle bundle = io::load_model(*model);
    io::export_onnx(bundle, *output, *options);
    const nn::Shape in = bundle.model.input_shape();
    const auto c = static_cast<long long>(in.c), h = static_cast<long long>(in.h),
               w = static_cast<long long>(in.w);
    const bool nhwc = options->include_preprocessing;
    std::printf(
        "wrote %s: input %s pixels (N, %lld, %lld, %lld), output probabilities of %zu "
        "classes\n",
        output->c_str(), nhwc ? "uint8" : "float 0..255", nhwc ? h : c, nhwc ? w : h, nhwc ? c : w,
        bundle.class_names.size());
  });
}

}  // namespace kiln::apps
