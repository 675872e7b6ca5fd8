// kiln evaluate: a model file and a dataset → loss and accuracy.
#include <cstdio>
#include <memory>

#include "apps/commands.hpp"
#include "pipeline/evaluator.hpp"

namespace kiln::apps {

void add_evaluate_command(CLI::App& app) {
  auto request = std::make_shared<pipeline::EvalRequest>();
  CLI::App* cmd = app.add_subcommand(
      "evaluate",
      "Evaluate a model file on a kiln HDF5 dataset, with the preprocessing stored in the model.");
  cmd->add_option("model", request->model_path, "Model file (.h5 from kiln train)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("data", request->data_path, "Dataset (.h5 from kiln preprocess)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--batch-size", request->batch_size, "Samples per forward pass")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--threads", request->threads, "Worker threads (0: all cores)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  cmd->callback([request] {
    const pipeline::EvalReport report = pipeline::evaluate_model(*request);
    std::printf("samples %lld\nloss %.4f\naccuracy %.4f\n",
                static_cast<long long>(report.result.samples), report.result.loss,
                report.result.accuracy);
  });
}

}  // namespace kiln::apps
