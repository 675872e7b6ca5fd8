// Diagnostics: what happens inside the network while it trains, at the first optimizer step (the
// initialization's verdict) and every N steps (the lecture's checks, and what TensorBoard's
// histograms are read for). For each layer, on the batch
// just trained:
//   activation mean and standard deviation of its output;
//   for a ReLU, the fraction of dead units: channels (a dense layer's units) that are zero for
//     every sample and position of the batch;
//   for a layer with weights, the L2 norms of its gradient and its weights, and the
//     update-to-weight ratio ||w_after − w_before|| / ||w_before|| of that step (rule of thumb:
//     about 1e-3).
// It only reads: the weights, the batches and every random draw are those of a run without it
// (tested bit for bit). A layer that applies the ReLU after it (Model::applies_next_relu) keeps
// no output of its own; the ReLU's row carries the figures.
//
// It also names a layer that is clearly sick, once per layer and kind: more than half its ReLUs
// dead; activations shrinking towards zero through depth (the deepest activation standard
// deviation below 1% of the shallowest); an update ratio outside 1e-5..1e-1.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "nn/model/model.hpp"
#include "nn/training/trainer.hpp"

namespace kiln::nn {

struct LayerDiagnostics {
  std::size_t layer = 0;
  std::string name, type;
  // NaN where a figure does not apply: no output of its own, not a ReLU, no weights, no update
  // seen yet.
  double activation_mean = 0.0, activation_std = 0.0;
  double dead_fraction = 0.0;
  double gradient_norm = 0.0, weight_norm = 0.0, update_ratio = 0.0;
};

struct DiagnosticsRecord {
  std::int64_t epoch = 0;  // 1-based epoch of the step
  std::int64_t step = 0;   // optimizer steps taken, this one included
  std::vector<LayerDiagnostics> layers;
};

// A sick layer: kind "dead" (over half its ReLUs dead), "update" (ratio outside 1e-5..1e-1) or
// "shrink" (the deepest ReLU's standard deviation below 1% of the shallowest's).
struct DiagnosticsWarning {
  std::string kind, layer, detail;
};

// Throws kiln::Error for `every` < 1.
class Diagnostics final : public Callback {
 public:
  using RecordSink = std::function<void(const DiagnosticsRecord&)>;
  using WarningSink = std::function<void(const std::string&)>;
  Diagnostics(Model& model, std::int64_t every, RecordSink on_record, WarningSink on_warning = {});

  void on_epoch_begin(TrainState& state) override;
  void on_batch_end(const TrainState& state, std::int64_t batch, double loss) override;

  // The figures of the model's current forward/backward pass; `before` (the weights before the
  // step, parameter by parameter; may be empty) gives the update ratios.
  static DiagnosticsRecord measure(Model& model, const std::vector<std::vector<float>>& before);
  // The warnings a record calls for, and the lines that say them: one per kind, naming each layer.
  static std::vector<DiagnosticsWarning> warnings(const DiagnosticsRecord& record);
  static std::vector<std::string> warning_lines(const std::vector<DiagnosticsWarning>& found,
                                                std::int64_t step);

 private:
  bool recorded(std::int64_t step) const;
  void snapshot_if_next_is_recorded(std::int64_t step);

  Model& model_;
  std::int64_t every_;
  RecordSink on_record_;
  WarningSink on_warning_;
  std::vector<std::vector<float>> before_;  // weights before the next recorded step
  std::set<std::string> warned_;            // "kind/layer" already said
};

}  // namespace kiln::nn
