// kiln evaluate: a model file and a dataset (or a folder of class folders) → loss, top-1/top-5,
// per-class precision and recall, and, with --report, the confusion matrix and per-image CSVs.
#include <cmath>
#include <cstdio>
#include <memory>

#include "apps/commands.hpp"
#include "apps/validators.hpp"
#include "pipeline/jobs/evaluator.hpp"

namespace kiln::apps {

namespace {

void print_pass(const pipeline::EvalPass& pass) {
  const auto& m = pass.metrics;
  std::printf("views: %s (%d per image)\n", pass.views.c_str(), pass.views_per_image);
  std::printf("  images %lld   loss %.4f   accuracy %.4f", static_cast<long long>(m.samples()),
              m.loss(), m.accuracy());
  if (m.classes() > m.top_k()) std::printf("   top-%d %.4f", m.top_k(), m.top_k_accuracy());
  std::printf("   %.0f images/s\n", pass.images_per_second());
}

void print_per_class(const pipeline::EvalPass& pass, const std::vector<std::string>& names) {
  const auto& m = pass.metrics;
  std::printf("%-24s %9s %9s %9s\n", "class", "precision", "recall", "support");
  for (std::int64_t c = 0; c < m.classes(); ++c) {
    const std::string name = c < static_cast<std::int64_t>(names.size())
                                 ? names[static_cast<std::size_t>(c)]
                                 : std::to_string(c);
    const double p = m.precision(c), r = m.recall(c);
    std::printf("%-24s %9s %9s %9lld\n", name.c_str(),
                std::isnan(p) ? "-" : std::to_string(p).substr(0, 6).c_str(),
                std::isnan(r) ? "-" : std::to_string(r).substr(0, 6).c_str(),
                static_cast<long long>(m.support(c)));
  }
}

}  // namespace

void add_evaluate_command(CLI::App& app) {
  auto request = std::make_shared<pipeline::EvalRequest>();
  auto per_class = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "evaluate",
      "Evaluate a model on a kiln HDF5 dataset or a folder of class folders, with the "
      "preprocessing stored in the model; optionally multi-crop (5 or 10 views per scale).");
  cmd->add_option("model", request->model_path, "Model file (.h5 from kiln train)")
      ->required()
      ->check(existing_file());
  cmd->add_option("data", request->data_path,
                  "Dataset (.h5 from kiln preprocess) or a folder with one sub-folder per class")
      ->required()
      ->check(existing_path());
  cmd->add_option("--crops", request->crops,
                  "Views per scale: 1 (the model's eval stages), 5 (corners + centre) or 10 "
                  "(and their mirrors)")
      ->check(CLI::IsMember({1, 5, 10}))
      ->capture_default_str();
  cmd->add_option("--scales", request->scales,
                  "Short sides to resize to before cropping, e.g. --scales 224 256 384 (default: "
                  "the model's eval scale)")
      ->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--padding", request->padding,
                  "Pixels of padding around each scaled image before cropping (default: the "
                  "trained pad_crop padding when the image has no room for corners)")
      ->check(CLI::Range(0, 1 << 12));
  cmd->add_flag("--compare", request->compare,
                "With --crops 5 or 10: also evaluate single-crop and print both");
  cmd->add_option("--report", request->report_dir,
                  "Folder for confusion.csv, confusion.png, per_class.csv and predictions.csv");
  cmd->add_flag("--per-class", *per_class, "Print precision and recall for every class");
  cmd->add_option(
         "--batch-size", request->batch_size,
         "Rows per forward pass; with views, this many views (of batch-size / views images)")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--threads", request->threads, "Worker threads (0: all cores)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  cmd->callback([request, per_class] {
    const pipeline::EvalReport report = pipeline::evaluate_model(*request);
    for (const auto& pass : report.passes) print_pass(pass);
    if (report.passes.size() == 2) {
      std::printf("multi-crop minus single-crop accuracy: %+.4f\n",
                  report.passes[1].metrics.accuracy() - report.passes[0].metrics.accuracy());
    }
    if (*per_class) print_per_class(report.passes.back(), report.class_names);
    if (!request->report_dir.empty()) {
      std::printf("report: %s/{confusion.csv,confusion.png,per_class.csv,predictions.csv}\n",
                  request->report_dir.c_str());
    }
  });
}

}  // namespace kiln::apps
