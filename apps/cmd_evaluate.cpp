// kiln evaluate: a model file (or an ensemble of them) and a dataset (or a folder of class folders) → loss, top-1/top-5,
// per-class precision and recall, and, with --report, the confusion matrix and per-image CSVs.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "apps/shared/commands.hpp"
#include "apps/shared/scales_flag.hpp"
#include "apps/shared/validators.hpp"
#include "apps/shared/world.hpp"
#include "nn/error.hpp"
#include "pipeline/inference/evaluator.hpp"

namespace kiln::apps {

namespace {

void print_pass(const pipeline::EvalPass& pass) {
  const auto& m = pass.metrics;
  std::printf("views: %s (%d per image)\n", pass.views.c_str(), pass.views_per_image);
  std::printf("  images %lld   loss %.4f   accuracy %.4f", static_cast<long long>(m.samples()),
              m.loss(), m.accuracy());
  if (m.classes() > m.top_k()) std::printf("   top-%d %.4f", m.top_k(), m.top_k_accuracy());
  std::printf("   macro-F1 %.4f   %.0f images/s\n", m.macro_f1(), pass.images_per_second());
}

void print_per_class(const pipeline::EvalPass& pass, const std::vector<std::string>& names) {
  const auto& m = pass.metrics;
  std::printf("%-24s %9s %9s %9s %9s\n", "class", "precision", "recall", "F1", "support");
  for (std::int64_t c = 0; c < m.classes(); ++c) {
    const std::string name = c < static_cast<std::int64_t>(names.size())
                                 ? names[static_cast<std::size_t>(c)]
                                 : std::to_string(c);
    const double p = m.precision(c), r = m.recall(c), f = m.f1(c);
    auto cell = [](double v) {
      return std::isnan(v) ? std::string("-") : std::to_string(v).substr(0, 6);
    };
    std::printf("%-24s %9s %9s %9s %9lld\n", name.c_str(), cell(p).c_str(), cell(r).c_str(),
                cell(f).c_str(), static_cast<long long>(m.support(c)));
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
  auto positionals = std::make_shared<std::vector<std::string>>();
  cmd->add_option("models_and_data", *positionals,
                  "MODEL... DATA: one or more model files (.h5 from kiln train; several are an "
                  "ensemble), then a dataset (.h5 from kiln preprocess) or a folder with one "
                  "sub-folder per class")
      ->required()
      ->expected(2, 1 << 16)
      ->check(existing_path());
  cmd->add_option("--crops", request->views.crops,
                  "Views per scale: 1 (the model's eval stages), 5 (corners + centre) or 10 "
                  "(and their mirrors)")
      ->check(CLI::IsMember(
          std::vector<int>(std::begin(pipeline::kCropCounts), std::end(pipeline::kCropCounts))))
      ->capture_default_str();
  auto scales = std::make_shared<ScalesFlag>();
  scales->add_to(cmd);
  cmd->add_option("--padding", request->views.padding,
                  "Pixels of padding around each scaled image before cropping (default: the "
                  "trained pad_crop padding when the image has no room for corners)")
      ->check(CLI::Range(0, 1 << 12));
  cmd->add_flag("--compare", request->compare,
                "One model with --crops 5 or 10: also evaluate single-crop and print both; an "
                "ensemble: also print each model alone");
  cmd->add_option("--report", request->report_dir,
                  "Folder for confusion.csv, confusion.png, per_class.csv and predictions.csv");
  cmd->add_flag("--per-class", *per_class, "Print precision, recall and F1 for every class");
  cmd->add_option(
         "--batch-size", request->batch_size,
         "Rows per forward pass; with views, this many views (of batch-size / views images)")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--threads", request->threads, "Worker threads (0: all cores)")
      ->check(thread_count())
      ->capture_default_str();
  cmd->callback([request, per_class, positionals, scales] {
    scales->apply(request->views.scales, request->views.auto_scales);
    request->model_paths.assign(positionals->begin(), positionals->end() - 1);
    request->data_path = positionals->back();
    for (const std::string& model : request->model_paths) {
      if (std::filesystem::is_directory(model)) {
        throw Error(model + ": is a folder; expected a model file (the data comes last)");
      }
    }
    request->ranks = world();
    const pipeline::EvalReport report = pipeline::evaluate_model(*request);
    for (const auto& pass : report.passes) print_pass(pass);
    const auto& passes = report.passes;
    if (request->model_paths.size() == 1 && passes.size() == 2) {
      std::printf("multi-crop minus single-crop accuracy: %+.4f\n",
                  passes[1].metrics.accuracy() - passes[0].metrics.accuracy());
    } else if (passes.size() > 2) {
      double best = 0;
      for (std::size_t i = 0; i + 1 < passes.size(); ++i) {
        best = std::max(best, passes[i].metrics.accuracy());
      }
      std::printf("ensemble minus best single model accuracy: %+.4f\n",
                  passes.back().metrics.accuracy() - best);
    }
    if (*per_class) print_per_class(report.passes.back(), report.class_names);
    if (!request->report_dir.empty()) {
      std::printf("report: %s/{confusion.csv,confusion.png,per_class.csv,predictions.csv}\n",
                  request->report_dir.c_str());
    }
  });
}

}  // namespace kiln::apps
