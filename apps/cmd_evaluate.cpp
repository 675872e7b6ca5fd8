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

// The figure passes are compared by: accuracy, multi-label mAP, or regression MAE.
struct Headline {
  const char* name;
  double value;
};
Headline headline(const pipeline::EvalPass& pass) {
  if (pass.multi_label) return {"mAP", pass.multi_label->mean_average_precision()};
  if (pass.regression) return {"MAE", pass.regression->mae()};
  return {"accuracy", pass.metrics.accuracy()};
}

void print_pass(const pipeline::EvalPass& pass) {
  const auto& m = pass.metrics;
  std::printf("views: %s (%d per image)\n", pass.views.c_str(), pass.views_per_image);
  if (const auto& ml = pass.multi_label) {
    std::printf(
        "  images %lld   mAP %.4f   micro-F1 %.4f   macro-F1 %.4f   subset accuracy %.4f   "
        "(threshold %.2f)   %.0f images/s\n",
        static_cast<long long>(ml->samples()), ml->mean_average_precision(), ml->micro_f1(),
        ml->macro_f1(), ml->subset_accuracy(), ml->threshold(), pass.images_per_second());
    return;
  }
  if (const auto& r = pass.regression) {
    std::printf(
        "  images %lld   MAE %.4f   RMSE %.4f   R2 %.4f   (MAE of predicting the mean %.4f)   "
        "%.0f images/s\n",
        static_cast<long long>(r->samples()), r->mae(), r->rmse(), r->r2(), r->mean_baseline_mae(),
        pass.images_per_second());
    return;
  }
  std::printf("  images %lld   loss %.4f   accuracy %.4f", static_cast<long long>(m.samples()),
              m.loss(), m.accuracy());
  if (m.classes() > m.top_k()) std::printf("   top-%d %.4f", m.top_k(), m.top_k_accuracy());
  std::printf("   macro-F1 %.4f   %.0f images/s\n", m.macro_f1(), pass.images_per_second());
}

void print_per_class(const pipeline::EvalPass& pass, const std::vector<std::string>& names) {
  auto cell = [](double v) {
    return std::isnan(v) ? std::string("-") : std::to_string(v).substr(0, 6);
  };
  if (const auto& ml = pass.multi_label) {
    std::printf("%-24s %9s %9s %9s\n", "class", "AP", "F1", "support");
    for (std::int64_t c = 0; c < ml->classes(); ++c) {
      std::printf("%-24s %9s %9s %9lld\n", names.at(static_cast<std::size_t>(c)).c_str(),
                  cell(ml->average_precision(c)).c_str(), cell(ml->f1(c)).c_str(),
                  static_cast<long long>(ml->support(c)));
    }
    return;
  }
  if (pass.regression) return;  // one line says it all
  const auto& m = pass.metrics;
  std::printf("%-24s %9s %9s %9s %9s\n", "class", "precision", "recall", "F1", "support");
  for (std::int64_t c = 0; c < m.classes(); ++c) {
    const std::string name = c < static_cast<std::int64_t>(names.size())
                                 ? names[static_cast<std::size_t>(c)]
                                 : std::to_string(c);
    const double p = m.precision(c), r = m.recall(c), f = m.f1(c);
    std::printf("%-24s %9s %9s %9s %9lld\n", name.c_str(), cell(p).c_str(), cell(r).c_str(),
                cell(f).c_str(), static_cast<long long>(m.support(c)));
  }
}

// Every pass, the gain of the views or the ensemble, the per-class table and the report files.
void print_report(const pipeline::EvalReport& report, const pipeline::EvalRequest& request,
                  bool per_class) {
  for (const auto& pass : report.passes) print_pass(pass);
  const auto& passes = report.passes;
  const Headline last = headline(passes.back());
  if (request.model_paths.size() == 1 && passes.size() == 2) {
    std::printf("multi-crop minus single-crop %s: %+.4f\n", last.name,
                last.value - headline(passes[0]).value);
  } else if (passes.size() > 2) {
    // The best single model: the highest accuracy or mAP, the lowest MAE.
    const bool lower_is_better = passes.back().regression.has_value();
    double best = headline(passes[0]).value;
    for (std::size_t i = 1; i + 1 < passes.size(); ++i) {
      const double v = headline(passes[i]).value;
      best = lower_is_better ? std::min(best, v) : std::max(best, v);
    }
    std::printf("ensemble minus best single model %s: %+.4f\n", last.name, last.value - best);
  }
  if (per_class) print_per_class(report.passes.back(), report.class_names);
  if (!request.report_dir.empty() && passes.back().multi_label) {
    std::printf("report: %s/{per_class.csv,predictions.csv}\n", request.report_dir.c_str());
  } else if (!request.report_dir.empty() && passes.back().regression) {
    std::printf("report: %s/predictions.csv\n", request.report_dir.c_str());
  } else if (!request.report_dir.empty()) {
    std::printf("report: %s/{confusion.csv,confusion.png,per_class.csv,predictions.csv}\n",
                request.report_dir.c_str());
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
  cmd->add_flag("--per-class", *per_class,
                "Print precision, recall and F1 for every class (multi_label: AP and F1)");
  cmd->add_option("--threshold", request->threshold,
                  "multi_label models: a class is predicted at this probability or above")
      ->check(CLI::Range(0.0, 1.0).description("in (0, 1)"))
      ->capture_default_str();
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
    print_report(report, *request, *per_class);
  });
}

}  // namespace kiln::apps
