#include "nn/callbacks/diagnostics.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <map>

#include "nn/error.hpp"

namespace kiln::nn {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Mean and standard deviation over every value, summed in double.
void moments(std::span<const float> v, double& mean, double& std) {
  double sum = 0.0, squares = 0.0;
  for (const float x : v) sum += x;
  mean = v.empty() ? kNaN : sum / static_cast<double>(v.size());
  for (const float x : v) squares += (x - mean) * (x - mean);
  std = v.empty() ? kNaN : std::sqrt(squares / static_cast<double>(v.size()));
}

// Channels (N, C, H, W → C) that are zero everywhere in the batch.
double dead_fraction(const Tensor& t) {
  const Shape& s = t.shape();
  const std::int64_t plane = s.h * s.w;
  std::int64_t dead = 0;
  for (std::int64_t c = 0; c < s.c; ++c) {
    bool alive = false;
    for (std::int64_t n = 0; n < s.n && !alive; ++n) {
      const float* p = t.span().data() + (n * s.c + c) * plane;
      for (std::int64_t i = 0; i < plane; ++i) alive |= p[i] != 0.f;
    }
    dead += !alive;
  }
  return s.c > 0 ? static_cast<double>(dead) / static_cast<double>(s.c) : kNaN;
}

double squared_norm(std::span<const float> v) {
  double sum = 0.0;
  for (const float x : v) sum += static_cast<double>(x) * x;
  return sum;
}

std::string figure(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", v);
  return text;
}

}  // namespace

Diagnostics::Diagnostics(Model& model, std::int64_t every, RecordSink on_record,
                         WarningSink on_warning)
    : model_(model),
      every_(every),
      on_record_(std::move(on_record)),
      on_warning_(std::move(on_warning)) {
  if (every_ < 1) throw Error("diagnostics every N steps needs N >= 1");
}

bool Diagnostics::recorded(std::int64_t step) const { return step == 1 || step % every_ == 0; }

void Diagnostics::snapshot_if_next_is_recorded(std::int64_t step) {
  if (!recorded(step + 1)) return;
  before_.clear();
  for (Parameter* p : model_.parameters()) {
    before_.emplace_back(p->value.span().begin(), p->value.span().end());
  }
}

void Diagnostics::on_epoch_begin(TrainState& state) { snapshot_if_next_is_recorded(state.step); }

void Diagnostics::on_batch_end(const TrainState& state, std::int64_t /*batch*/, double /*loss*/) {
  if (recorded(state.step)) {
    DiagnosticsRecord record = measure(model_, before_);
    record.epoch = state.epoch + 1;
    record.step = state.step;
    before_.clear();
    // Each layer is named once per kind of trouble; what is new in this record, one line a kind.
    std::vector<DiagnosticsWarning> fresh;
    for (DiagnosticsWarning& w : warnings(record)) {
      if (warned_.insert(w.kind + "/" + w.layer).second) fresh.push_back(std::move(w));
    }
    if (on_warning_)
      for (const std::string& line : warning_lines(fresh, record.step)) on_warning_(line);
    if (on_record_) on_record_(record);
  }
  snapshot_if_next_is_recorded(state.step);
}

DiagnosticsRecord Diagnostics::measure(Model& model,
                                       const std::vector<std::vector<float>>& before) {
  DiagnosticsRecord record;
  std::size_t parameter = 0;  // position in model.parameters(), layer by layer
  for (std::size_t i = 0; i < model.size(); ++i) {
    Layer& layer = model.layer(i);
    LayerDiagnostics d;
    d.layer = i;
    d.name = model.layer_name(i);
    d.type = std::string(layer.type());
    d.activation_mean = d.activation_std = d.dead_fraction = kNaN;
    if (!model.applies_next_relu(i)) {
      const Tensor& out = model.layer_output(i);
      moments(out.span(), d.activation_mean, d.activation_std);
      if (d.type == "relu") d.dead_fraction = dead_fraction(out);
    }
    d.gradient_norm = d.weight_norm = d.update_ratio = kNaN;
    const std::vector<Parameter*> params = layer.parameters();
    if (!params.empty()) {
      double gradient = 0.0, weights = 0.0, update = 0.0, old = 0.0;
      const bool have_before = before.size() >= parameter + params.size();
      for (const Parameter* p : params) {
        gradient += squared_norm(p->grad.span());
        weights += squared_norm(p->value.span());
        if (have_before) {
          const std::vector<float>& was = before[parameter];
          for (std::size_t k = 0; k < was.size(); ++k) {
            const double delta = static_cast<double>(p->value.span()[k]) - was[k];
            update += delta * delta;
          }
          old += squared_norm(was);
        }
        ++parameter;
      }
      d.gradient_norm = std::sqrt(gradient);
      d.weight_norm = std::sqrt(weights);
      if (have_before && old > 0) d.update_ratio = std::sqrt(update) / std::sqrt(old);
    }
    record.layers.push_back(std::move(d));
  }
  return record;
}

std::vector<DiagnosticsWarning> Diagnostics::warnings(const DiagnosticsRecord& record) {
  std::vector<DiagnosticsWarning> said;
  const LayerDiagnostics* shallowest = nullptr;
  const LayerDiagnostics* deepest = nullptr;
  for (const LayerDiagnostics& d : record.layers) {
    if (d.dead_fraction > 0.5) {
      said.push_back({"dead", d.name, figure(100 * d.dead_fraction) + "%"});
    }
    if (!std::isnan(d.update_ratio) && (d.update_ratio < 1e-5 || d.update_ratio > 1e-1)) {
      said.push_back({"update", d.name, figure(d.update_ratio)});
    }
    if (d.type == "relu" && !std::isnan(d.activation_std)) {
      if (shallowest == nullptr) shallowest = &d;
      deepest = &d;
    }
  }
  if (shallowest != nullptr && deepest != shallowest && shallowest->activation_std > 0 &&
      deepest->activation_std < 0.01 * shallowest->activation_std) {
    said.push_back({"shrink", deepest->name,
                    figure(shallowest->activation_std) + " at " + shallowest->name + " to " +
                        figure(deepest->activation_std)});
  }
  return said;
}

std::vector<std::string> Diagnostics::warning_lines(const std::vector<DiagnosticsWarning>& found,
                                                    std::int64_t step) {
  const std::map<std::string, std::string> what = {
      {"dead", "dead ReLUs: over half the units zero on the whole batch in "},
      {"update", "update-to-weight ratio far from about 1e-3 (outside 1e-5..1e-1) in "},
      {"shrink", "activations collapse towards zero through depth: standard deviation "}};
  const std::map<std::string, std::string> advice = {
      {"dead", "; lower the learning rate, or use He initialization"},
      {"update", "; the learning rate is off for these layers (too low below, too high above)"},
      {"shrink", "; use He (ReLU) or Glorot initialization"}};
  std::vector<std::string> lines;
  for (const auto& [kind, start] : what) {
    std::string layers;
    for (const DiagnosticsWarning& w : found) {
      if (w.kind != kind) continue;
      layers += (layers.empty() ? "" : ", ") +
                (kind == "shrink" ? w.detail + " at " + w.layer : w.layer + " (" + w.detail + ")");
    }
    if (!layers.empty()) {
      lines.push_back(start + layers + advice.at(kind) + " [step " + std::to_string(step) + "]");
    }
  }
  return lines;
}

}  // namespace kiln::nn
