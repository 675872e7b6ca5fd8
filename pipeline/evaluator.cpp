#include "pipeline/evaluator.hpp"

#include <memory>

#include "io/dataset_reader.hpp"
#include "io/model_file.hpp"
#include "nn/error.hpp"
#include "pipeline/loader.hpp"
#include "pipeline/normalize.hpp"
#include "pipeline/transforms/registry.hpp"

namespace kiln::pipeline {

EvalReport evaluate_model(const EvalRequest& request) {
  io::ModelBundle bundle = io::load_model(request.model_path);
  auto data = std::make_shared<const io::DatasetReader>(request.data_path);

  const Json& preprocessing = bundle.preprocessing;
  if (!preprocessing.contains("normalization")) {
    throw Error(request.model_path +
                ": the model file has no normalization; re-train it with kiln train");
  }
  const Normalization normalization = Normalization::from_json(preprocessing.at("normalization"));
  normalization.check_compatible(data->channels(), data->channel_order(), request.data_path);

  const auto outputs = bundle.model.output_shape().per_sample();
  if (static_cast<std::int64_t>(data->class_names().size()) > outputs) {
    throw Error(request.data_path + ": has " + std::to_string(data->class_names().size()) +
                " classes but the model predicts " + std::to_string(outputs) +
                "; evaluate it with a model trained on the same classes");
  }

  LoaderOptions options;
  options.batch_size = request.batch_size;
  options.mode = nn::Mode::kEval;
  options.shuffle = false;
  options.threads = request.threads;
  Loader loader(data, normalization, make_stages(preprocessing.value("eval_stages", Json::array())),
                options);
  return {nn::Trainer::evaluate(bundle.model, loader), bundle.class_names};
}

}  // namespace kiln::pipeline
