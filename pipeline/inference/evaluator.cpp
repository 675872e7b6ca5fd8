#include "pipeline/inference/evaluator.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>

#include "io/dataset_reader.hpp"
#include "io/image_index.hpp"
#include "io/model_file.hpp"
#include "nn/distributed/record_exchange.hpp"
#include "nn/error.hpp"
#include "nn/loss.hpp"
#include "pipeline/dataset/dataset_builder.hpp"
#include "pipeline/dataset/folder_dataset.hpp"
#include "pipeline/loader.hpp"
#include "pipeline/normalize.hpp"
#include "pipeline/storage.hpp"
#include "pipeline/transforms/registry.hpp"

namespace kiln::pipeline {

namespace fs = std::filesystem;

namespace {

// One model of the evaluation and what it needs of the data.
struct Member {
  std::string path;
  io::ModelBundle bundle;
  Normalization normalization;
  cv::Size crop;  // the model's input (W, H)
  std::optional<ViewOptions> views;
  nn::Task task = nn::Task::kClassification;  // what its outputs mean
};

// The models (one, or the ensemble's) and the data, checked once for every pass.
struct Setup {
  std::vector<Member> models;
  std::shared_ptr<const io::DatasetReader> data;
  std::vector<std::string> sources;  // per dataset row, when known
};

void check_fits(const Member& m, const io::DatasetReader& data, const std::string& data_path) {
  m.normalization.check_compatible(data.channels(), data.channel_order(), data_path);
  if (data.task() != m.task) {
    throw Error(data_path + ": holds " + std::string(nn::task_name(data.task())) + " targets but " +
                m.path + " was trained for " + std::string(nn::task_name(m.task)) +
                "; preprocess the data as the training data was (kiln preprocess --task)");
  }
  const auto outputs = m.bundle.model.output_shape().per_sample();
  const auto& names = data.class_names();
  if (static_cast<std::int64_t>(names.size()) > outputs) {
    throw Error(data_path + ": has " + std::to_string(names.size()) + " classes but " + m.path +
                " predicts " + std::to_string(outputs) +
                "; evaluate it with a model trained on the same classes");
  }
  const auto& model_names = m.bundle.class_names;
  for (std::size_t c = 0; c < names.size() && c < model_names.size(); ++c) {
    if (names[c] != model_names[c]) {
      throw Error(data_path + ": class " + std::to_string(c) + " is '" + names[c] + "' but in " +
                  m.path + " it is '" + model_names[c] +
                  "'; preprocess the data with the same class folders as the training data");
    }
  }
}

// One model's share of a pass: its own loader (its stages, its normalization) and, when the
// models are also reported alone, its own metrics.
struct MemberPass {
  std::unique_ptr<Loader> loader;
  nn::Batch batch;
  nn::Tensor probabilities;
  std::optional<EvalPass> alone;
};

std::unique_ptr<Loader> loader_for(const Setup& s, const Member& m, const EvalRequest& request,
                                   bool with_views, std::int64_t images_per_batch,
                                   const nn::Communicator* ranks) {
  std::vector<std::unique_ptr<Stage>> stages =
      make_stages(m.bundle.preprocessing.value("eval_stages", Json::array()));
  if (with_views) {
    std::erase_if(stages, [](const std::unique_ptr<Stage>& st) { return st->changes_size(); });
  }
  LoaderOptions options;
  options.batch_size = images_per_batch;
  options.mode = nn::Mode::kEval;
  options.shuffle = false;
  options.threads = request.threads;
  if (with_views) options.views = m.views;
  if (ranks != nullptr) {
    options.rank = ranks->rank();
    options.ranks = ranks->size();
  }
  auto loader = std::make_unique<Loader>(s.data, m.normalization, std::move(stages), options);
  const nn::Shape want = m.bundle.model.input_shape();
  const nn::Shape got = loader->sample_shape();
  if (got.c != want.c || got.h != want.h || got.w != want.w) {
    throw Error(request.data_path + ": the stages of " + m.path + " make " + got.str() +
                " inputs but the model takes " + want.str());
  }
  return loader;
}

std::string describe_views(const Member& m, bool with_views) {
  return with_views ? m.views->describe() : "single crop (the model's eval stages)";
}

int views_of(const Member& m, bool with_views) {
  return with_views ? m.views->views_per_image() : 1;
}

// What one batch gave: per image its label, dataset index and mean probabilities over its views
// and the models (and, for --compare of an ensemble, each model's own mean). Metrics are taken
// from these afterwards, batch after batch in dataset order, so that batches computed on several
// MPI ranks give the figures of one process.
struct BatchOutcome {
  std::vector<std::int32_t> labels;
  std::vector<std::uint64_t> indices;
  std::vector<float> ensemble;  // images × classes
  std::vector<float> members;   // models × images × classes (ensemble --compare only)
};

// Every rank's outcomes in dataset order: rank r's j-th batch is batch j·ranks + r.
std::vector<BatchOutcome> gather_outcomes(nn::Communicator* ranks, std::vector<BatchOutcome> mine) {
  if (ranks == nullptr) return mine;
  return nn::gather_in_rank_order(
      *ranks, std::move(mine), "evaluation record",
      [](nn::RecordWriter& out, const BatchOutcome& b) {
        out.put_array(b.labels);
        out.put_array(b.indices);
        out.put_array(b.ensemble);
        out.put_array(b.members);
      },
      [](nn::RecordReader& in) {
        BatchOutcome b;
        b.labels = in.take_array<std::int32_t>();
        b.indices = in.take_array<std::uint64_t>();
        b.ensemble = in.take_array<float>();
        b.members = in.take_array<float>();
        return b;
      });
}

// The batch each member's loader gave last, averaged: per image the mean probability over its
// views, then over the models (and with `each_alone`, each model's own mean).
BatchOutcome average_batch(Setup& s, std::vector<MemberPass>& members, bool with_views,
                           std::int64_t classes, bool each_alone) {
  const nn::Batch& lead = members[0].batch;
  const int lead_views = views_of(s.models[0], with_views);
  const std::int64_t images = lead.size() / lead_views;
  BatchOutcome out;
  out.ensemble.assign(static_cast<std::size_t>(images * classes), 0.f);
  if (each_alone) out.members.resize(members.size() * out.ensemble.size());
  std::vector<float> mean(static_cast<std::size_t>(classes));
  for (std::size_t i = 0; i < members.size(); ++i) {
    MemberPass& m = members[i];
    const std::int64_t k = views_of(s.models[i], with_views);
    nn::StepContext ctx{nn::Mode::kEval, 0, 0, m.batch.indices};
    ctx.output_only = true;  // batch norms applied by the convolutions before them
    const nn::Tensor& logits = s.models[i].bundle.model.forward(m.batch.inputs, ctx);
    if (s.models[i].task == nn::Task::kClassification) {
      nn::SoftmaxCrossEntropy::compute(logits, m.batch.labels, nullptr, &m.probabilities);
    } else {
      m.probabilities = logits;
      nn::output_to_scores(s.models[i].task, m.probabilities.data(), logits.shape().n, classes);
    }
    // Rows come in groups of k views of one image (graph.hpp keeps them together).
    for (std::int64_t image = 0; image < images; ++image) {
      std::fill(mean.begin(), mean.end(), 0.f);
      for (std::int64_t v = 0; v < k; ++v) {
        const float* row = m.probabilities.data() + (image * k + v) * classes;
        for (std::int64_t c = 0; c < classes; ++c) mean[static_cast<std::size_t>(c)] += row[c];
      }
      for (std::int64_t c = 0; c < classes; ++c) {
        mean[static_cast<std::size_t>(c)] /= static_cast<float>(k);
        out.ensemble[static_cast<std::size_t>(image * classes + c)] +=
            mean[static_cast<std::size_t>(c)];
      }
      if (each_alone) {
        std::copy(
            mean.begin(), mean.end(),
            out.members.begin() + static_cast<std::ptrdiff_t>((i * images + image) * classes));
      }
    }
  }
  for (std::int64_t image = 0; image < images; ++image) {
    const auto row = static_cast<std::size_t>(image * lead_views);
    for (std::int64_t c = 0; c < classes; ++c) {
      out.ensemble[static_cast<std::size_t>(image * classes + c)] /=
          static_cast<float>(members.size());
    }
    out.labels.push_back(lead.labels[row]);
    out.indices.push_back(lead.indices[row]);
  }
  return out;
}

// One image's scores (mean probabilities or values) into the metrics of the pass's task; returns
// the predicted class for classification (else 0).
std::int32_t add_scores(EvalPass& pass, std::span<const float> scores, std::int32_t label,
                        std::uint64_t index, const io::DatasetReader& data) {
  if (pass.multi_label) {
    pass.multi_label->add(scores, data.target_row(static_cast<std::int64_t>(index)));
    return 0;
  }
  if (pass.regression) {
    pass.regression->add(scores, data.target_row(static_cast<std::int64_t>(index)));
    return 0;
  }
  return pass.metrics.add(scores, label);
}

// A pass with the metrics its task needs.
EvalPass make_pass(std::string views, int views_per_image, nn::Task task, std::int64_t classes,
                   double threshold) {
  const int top_k = static_cast<int>(std::min<std::int64_t>(5, classes));
  EvalPass pass{
      std::move(views), views_per_image, nn::ClassificationMetrics(classes, top_k), {}, 0.0, task};
  if (task == nn::Task::kMultiLabel) pass.multi_label.emplace(classes, threshold);
  if (task == nn::Task::kRegression) pass.regression.emplace(classes);
  return pass;
}

// Adds every rank's outcomes, in dataset order, to the pass's metrics and predictions (and each
// model's own metrics, when `members` were asked for alone).
void score(const std::vector<BatchOutcome>& outcomes, const Setup& s, std::int64_t classes,
           std::vector<MemberPass>& members, bool each_alone, EvalPass& pass) {
  std::vector<float> mean(static_cast<std::size_t>(classes));
  for (const BatchOutcome& out : outcomes) {
    const auto images = static_cast<std::int64_t>(out.labels.size());
    for (std::int64_t image = 0; image < images; ++image) {
      const std::int32_t label = out.labels[static_cast<std::size_t>(image)];
      const std::uint64_t index = out.indices[static_cast<std::size_t>(image)];
      for (std::size_t i = 0; each_alone && i < members.size(); ++i) {
        const auto first =
            out.members.begin() + static_cast<std::ptrdiff_t>((i * images + image) * classes);
        std::copy_n(first, classes, mean.begin());
        add_scores(*members[i].alone, mean, label, index, *s.data);
      }
      std::copy_n(out.ensemble.begin() + image * classes, classes, mean.begin());
      if (pass.task != nn::Task::kClassification) {
        add_scores(pass, mean, label, index, *s.data);
        const auto targets = s.data->target_row(static_cast<std::int64_t>(index));
        pass.scored.push_back({index,
                               index < s.sources.size() ? s.sources[index] : std::string(),
                               {targets.begin(), targets.end()},
                               mean});
        continue;
      }
      const std::int32_t predicted = pass.metrics.add(mean, label);
      pass.predictions.push_back({index,
                                  index < s.sources.size() ? s.sources[index] : std::string(),
                                  label, predicted, mean[static_cast<std::size_t>(predicted)]});
    }
  }
}

// Every model reads the same images in the same order, batch by batch; each image's probability
// is the mean over its views, then over the models. Returns the models alone (when asked, with
// more than one) and then the ensemble, or the one model.
std::vector<EvalPass> run_pass(Setup& s, const EvalRequest& request, bool with_views) {
  const auto classes = s.models[0].bundle.model.output_shape().per_sample();
  const nn::Task task = s.models[0].task;
  int most_views = 1;
  for (const Member& m : s.models) most_views = std::max(most_views, views_of(m, with_views));
  // The batch size counts forward-pass rows, so views do not multiply the memory of a batch.
  const std::int64_t images_per_batch = std::max<std::int64_t>(1, request.batch_size / most_views);
  const bool ensemble = s.models.size() > 1;
  const bool each_alone = ensemble && request.compare;
  std::vector<MemberPass> members(s.models.size());
  for (std::size_t i = 0; i < s.models.size(); ++i) {
    members[i].loader =
        loader_for(s, s.models[i], request, with_views, images_per_batch, request.ranks);
    members[i].alone.emplace(
        make_pass(s.models[i].path + ", " + describe_views(s.models[i], with_views),
                  views_of(s.models[i], with_views), task, classes, request.threshold));
  }
  EvalPass pass =
      make_pass((ensemble ? "ensemble of " + std::to_string(s.models.size()) + " models, " : "") +
                    describe_views(s.models[0], with_views),
                views_of(s.models[0], with_views), task, classes, request.threshold);
  pass.predictions.reserve(static_cast<std::size_t>(s.data->size()));
  const auto start = std::chrono::steady_clock::now();
  for (MemberPass& m : members) m.loader->start_epoch(0);
  std::vector<BatchOutcome> outcomes;
  while (members[0].loader->next(members[0].batch)) {
    for (std::size_t i = 1; i < members.size(); ++i) members[i].loader->next(members[i].batch);
    outcomes.push_back(average_batch(s, members, with_views, classes, each_alone));
  }
  score(gather_outcomes(request.ranks, std::move(outcomes)), s, classes, members, each_alone, pass);
  pass.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<EvalPass> passes;
  if (each_alone) {
    for (MemberPass& m : members) {
      m.alone->seconds = pass.seconds;
      passes.push_back(std::move(*m.alone));
    }
  }
  passes.push_back(std::move(pass));
  return passes;
}

Member load_member(const std::string& path) {
  Member m{path, io::load_model(path), {}, {}, std::nullopt};
  try {
    m.task = nn::task_from_name(m.bundle.preprocessing.value("task", "classification"));
  } catch (const Error& e) {
    throw Error(path + ": " + e.what() + "; the file is damaged");
  }
  m.normalization =
      Normalization::from_json(m.bundle.preprocessing.at("normalization"), m.bundle.arrays);
  const nn::Shape input = m.bundle.model.input_shape();
  m.crop = cv::Size(static_cast<int>(input.w), static_cast<int>(input.h));
  return m;
}

// An ensemble's models must predict the same classes, in the same order.
void check_same_classes(const std::vector<Member>& models) {
  const Member& first = models.front();
  for (const Member& m : models) {
    if (m.bundle.class_names != first.bundle.class_names || m.task != first.task ||
        m.bundle.model.output_shape() != first.bundle.model.output_shape()) {
      std::string names;
      for (const auto& n : m.bundle.class_names) names += (names.empty() ? "" : ", ") + n;
      throw Error(m.path + ": predicts other classes than " + first.path + " (" +
                  std::to_string(m.bundle.model.output_shape().per_sample()) + ": " + names +
                  "); an ensemble's models must be trained on the same classes");
    }
  }
}

}  // namespace

ViewOptions default_views(const Json& preprocessing, const std::string& model_path, cv::Size stored,
                          cv::Size crop, const ViewRequest& request) {
  check_view_request(request);
  const std::vector<int> scales =
      request.auto_scales ? auto_scales(preprocessing, model_path) : request.scales;
  const int crops = request.crops, padding = request.padding;
  ViewOptions o;
  o.crops = crops;
  o.crop = crop;
  o.scales = scales;
  int trained_padding = -1;
  for (const auto& stage : make_stages(preprocessing.value("eval_stages", Json::array()))) {
    const ViewHint hint = stage->view_hint();
    if (scales.empty() && hint.eval_short_side) o.scales = {*hint.eval_short_side};
    if (hint.shift) {
      trained_padding = *hint.shift;
      o.fill = hint.fill;
    }
  }
  if (padding >= 0) {
    o.padding = padding;
  } else {
    // Room for distinct corners at the smallest scale? Without it, pad.
    const int short_side = o.scales.empty() ? std::min(stored.width, stored.height)
                                            : *std::min_element(o.scales.begin(), o.scales.end());
    const bool no_room = short_side <= std::min(crop.width, crop.height);
    // Half the trained shift: the corner views stay typical of what training showed. Measured
    // on Fashion-MNIST (mnist_cnn, pad_crop 2): padding 1 helps, padding 2 (the extreme shifts)
    // costs more than half a point. Without pad_crop the shifted views were never seen: none.
    o.padding = no_room && crops > 1 && trained_padding > 0 ? std::max(1, trained_padding / 2) : 0;
  }
  check_view_options(o);
  return o;
}

std::vector<int> auto_scales(const Json& preprocessing, const std::string& model_path) {
  for (const auto& stage : make_stages(preprocessing.value("eval_stages", Json::array()))) {
    const std::optional<std::pair<int, int>> range = stage->view_hint().short_sides;
    if (!range) continue;
    const auto [lo, hi] = *range;
    if (lo == hi) return {lo};
    return {lo, (lo + hi) / 2, hi};
  }
  throw Error(model_path +
              ": --scales auto spreads the views over the training scale_crop range, but this "
              "model trained without scale_crop; give the scales, e.g. --scales 32 40");
}

namespace {

// summary.csv's rows for one pass (io/run_files/eval_report.hpp).
std::vector<std::pair<std::string, double>> summary_of(const EvalPass& pass) {
  std::vector<std::pair<std::string, double>> rows = {
      {"images", static_cast<double>(pass.images())},
      {"views_per_image", static_cast<double>(pass.views_per_image)}};
  if (pass.multi_label) {
    const nn::MultiLabelMetrics& m = *pass.multi_label;
    rows.insert(rows.end(), {{"threshold", m.threshold()},
                             {"mAP", m.mean_average_precision()},
                             {"micro_f1", m.micro_f1()},
                             {"macro_f1", m.macro_f1()},
                             {"subset_accuracy", m.subset_accuracy()}});
  } else if (pass.regression) {
    const nn::RegressionMetrics& m = *pass.regression;
    rows.insert(rows.end(), {{"MAE", m.mae()},
                             {"RMSE", m.rmse()},
                             {"R2", m.r2()},
                             {"mean_baseline_MAE", m.mean_baseline_mae()}});
  } else {
    const nn::ClassificationMetrics& m = pass.metrics;
    rows.insert(rows.end(), {{"loss", m.loss()},
                             {"accuracy", m.accuracy()},
                             {"top" + std::to_string(m.top_k()) + "_accuracy", m.top_k_accuracy()},
                             {"macro_f1", m.macro_f1()}});
  }
  return rows;
}

// The files of the pass asked for (the last) in `dir`.
void write_report_files(const EvalReport& report, const std::string& dir_name) {
  const EvalPass& pass = report.passes.back();
  const fs::path dir(dir_name);
  io::write_summary_csv((dir / "summary.csv").string(), summary_of(pass));
  if (pass.task != nn::Task::kClassification) {
    if (pass.multi_label) {
      io::write_multi_label_csv((dir / "per_class.csv").string(), *pass.multi_label,
                                report.class_names);
    }
    io::write_scores_csv((dir / "predictions.csv").string(), pass.scored, report.class_names);
    return;
  }
  io::write_confusion_csv((dir / "confusion.csv").string(), pass.metrics, report.class_names);
  io::write_confusion_png((dir / "confusion.png").string(), pass.metrics, report.class_names);
  io::write_per_class_csv((dir / "per_class.csv").string(), pass.metrics, report.class_names);
  io::write_predictions_csv((dir / "predictions.csv").string(), pass.predictions,
                            report.class_names);
}

}  // namespace

EvalReport evaluate_model(const EvalRequest& request) {
  check_view_request(request.views);
  if (request.model_paths.empty()) throw Error("evaluate needs at least one model file");
  Setup s;
  for (const std::string& path : request.model_paths) s.models.push_back(load_member(path));
  check_same_classes(s.models);
  const Member& first = s.models.front();

  std::unique_ptr<FolderDataset> folder;
  std::string data_path = request.data_path;
  const bool sharded = request.ranks != nullptr && request.ranks->size() > 1;
  if (sharded && fs::is_directory(request.data_path)) {
    throw Error(request.data_path + ": a folder is staged by one process; under mpirun evaluate " +
                "a kiln HDF5 file (mpirun -np N kiln preprocess " + request.data_path +
                " -o data.h5 --size HxW)");
  }
  if (fs::is_directory(request.data_path)) {
    // Stored the way the (first) model's training data was: its fixed size, or its sizing.
    const Storage storage = storage_of_model(first.bundle.preprocessing, first.path);
    folder = std::make_unique<FolderDataset>(request.data_path, BuildOptions::storing(storage),
                                             first.bundle.class_names);
    data_path = folder->path();
    s.sources = folder->sources();
  }
  s.data = std::make_shared<const io::DatasetReader>(data_path);
  for (const Member& m : s.models) check_fits(m, *s.data, request.data_path);

  EvalReport report{first.bundle.class_names, {}};
  if (report.class_names.empty()) report.class_names = s.data->class_names();
  auto add_passes = [&](std::vector<EvalPass> passes) {
    for (EvalPass& p : passes) report.passes.push_back(std::move(p));
  };
  if (request.views.crops == 1) {
    add_passes(run_pass(s, request, false));
  } else {
    // Variable-size data: the first image stands for the others in these checks.
    const cv::Size stored_size = s.data->image_size(0);
    for (Member& m : s.models) {
      m.views = default_views(m.bundle.preprocessing, m.path, stored_size, m.crop, request.views);
      // A crop that does not fit stops here, naming the sizes, before any image is read.
      plan_views(stored_size, *m.views);
    }
    // One model: --compare sets single crop beside the views; an ensemble: each model alone.
    if (request.compare && s.models.size() == 1) add_passes(run_pass(s, request, false));
    add_passes(run_pass(s, request, true));
  }

  const bool writes = request.ranks == nullptr || request.ranks->rank() == 0;
  if (!request.report_dir.empty() && writes) write_report_files(report, request.report_dir);
  return report;
}

}  // namespace kiln::pipeline
