#include "pipeline/batch_mixing.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "nn/error.hpp"
#include "pipeline/stage_options.hpp"

namespace kiln::pipeline {
namespace {

// Gamma(shape, 1) (Marsaglia & Tsang 2000; shape < 1 through Gamma(shape + 1)·U^(1/shape)).
double draw_gamma(nn::Rng& rng, double shape) {
  if (shape < 1) {
    const double u = rng.uniform();
    return draw_gamma(rng, shape + 1) * std::pow(u, 1.0 / shape);
  }
  const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  while (true) {
    const double x = rng.normal();
    const double v = std::pow(1.0 + c * x, 3.0);
    if (v <= 0) continue;
    const double u = rng.uniform();
    if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v;
  }
}

double read_positive(StageOptions& options, const std::string& stage, const std::string& key) {
  if (options.find(key) == nullptr)
    throw Error("stage '" + stage + "': option '" + key + "' (a number > 0) is required");
  float value = 0;
  options.read(key, value);
  if (!(value > 0)) options.fail(key, "a number > 0");
  return value;
}

}  // namespace

double draw_beta(nn::Rng& rng, double alpha) {
  const double x = draw_gamma(rng, alpha), y = draw_gamma(rng, alpha);
  return x + y > 0 ? x / (x + y) : 0.5;
}

bool is_batch_stage(const std::string& type) {
  return type == "mixup" || type == "cutmix" || type == "mixup_cutmix";
}

std::pair<Json, Json> split_batch_stage(const Json& stages) {
  if (!stages.is_array()) return {stages, nullptr};
  Json per_sample = Json::array(), batch = nullptr;
  for (std::size_t i = 0; i < stages.size(); ++i) {
    const Json& stage = stages[i];
    const bool mixes = stage.is_object() && stage.contains("type") &&
                       stage.at("type").is_string() &&
                       is_batch_stage(stage.at("type").get<std::string>());
    if (!mixes) {
      if (!batch.is_null()) {
        throw Error("stage " + std::to_string(i) + " (" + stage.dump() + ") comes after " +
                    batch.at("type").get<std::string>() +
                    ", which mixes whole batches; list the batch stage last");
      }
      per_sample.push_back(stage);
    } else if (!batch.is_null()) {
      throw Error("two batch stages (" + batch.at("type").get<std::string>() + " and " +
                  stage.at("type").get<std::string>() +
                  "); use one, or mixup_cutmix to switch between mixup and cutmix");
    } else {
      batch = stage;
    }
  }
  return {per_sample, batch};
}

BatchMixing BatchMixing::from_json(const Json& stage) {
  BatchMixing m;
  m.type_ = stage.at("type").get<std::string>();
  Json options_json = stage;
  options_json.erase("type");
  StageOptions options(m.type_, options_json);
  if (m.type_ == "mixup") {
    m.mixup_alpha_ = read_positive(options, m.type_, "alpha");
  } else if (m.type_ == "cutmix") {
    m.cutmix_alpha_ = read_positive(options, m.type_, "alpha");
  } else {
    m.mixup_alpha_ = read_positive(options, m.type_, "mixup_alpha");
    m.cutmix_alpha_ = read_positive(options, m.type_, "cutmix_alpha");
    float switch_prob = 0.5f;
    options.read("switch_prob", switch_prob);
    if (!(switch_prob >= 0 && switch_prob <= 1)) options.fail("switch_prob", "a number in [0, 1]");
    m.switch_prob_ = switch_prob;
  }
  float p = 1.f;
  options.read("p", p);
  if (!(p >= 0 && p <= 1)) options.fail("p", "a number in [0, 1]");
  m.p_ = p;
  options.reject_unknown();
  return m;
}

Json BatchMixing::config() const {
  Json c = {{"type", type_}, {"p", p_}};
  if (type_ == "mixup") c["alpha"] = mixup_alpha_;
  if (type_ == "cutmix") c["alpha"] = cutmix_alpha_;
  if (type_ == "mixup_cutmix") {
    c["mixup_alpha"] = mixup_alpha_;
    c["cutmix_alpha"] = cutmix_alpha_;
    c["switch_prob"] = switch_prob_;
  }
  return c;
}

void BatchMixing::apply(nn::Batch& batch, std::uint64_t seed, std::uint64_t epoch,
                        std::int64_t classes) const {
  const nn::Shape shape = batch.inputs.shape();
  const std::int64_t n = shape.n, h = shape.h, w = shape.w, plane = h * w;
  const std::int64_t per_sample = shape.per_sample();
  const std::vector<float> original(batch.inputs.span().begin(), batch.inputs.span().end());
  // Multi-label and regression batches come with their target rows: those are mixed. Otherwise
  // the rows start one-hot at the labels.
  const bool dense = batch.targets.size() > 0;
  const std::vector<float> rows(batch.targets.span().begin(), batch.targets.span().end());
  batch.targets.resize({n, classes, 1, 1});
  batch.targets.fill(0.f);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t j = n - 1 - i;
    const auto index = batch.indices[static_cast<std::size_t>(i)];
    nn::Rng rng({seed, epoch, index, nn::kSlotBatchMix});
    double own = 1.0;  // the weight of the row's own label
    const bool mixes = rng.uniform() < p_;
    const bool cutmix = cutmix_alpha_ > 0 && (mixup_alpha_ <= 0 || rng.uniform() < switch_prob_);
    if (mixes && j != i) {
      const double lambda = draw_beta(rng, cutmix ? cutmix_alpha_ : mixup_alpha_);
      float* row = batch.inputs.data() + i * per_sample;
      const float* partner = original.data() + j * per_sample;
      if (!cutmix) {
        const auto a = static_cast<float>(lambda), b = static_cast<float>(1.0 - lambda);
        for (std::int64_t e = 0; e < per_sample; ++e) row[e] = a * row[e] + b * partner[e];
        own = lambda;
      } else {
        // The box: sides √(1 − λ) of the image's, centred at a uniform pixel, clipped (timm's
        // rand_bbox); its area after clipping sets the label weight.
        const double side = std::sqrt(1.0 - lambda);
        const auto box_h = static_cast<std::int64_t>(static_cast<double>(h) * side);
        const auto box_w = static_cast<std::int64_t>(static_cast<double>(w) * side);
        const std::int64_t cy = rng.randint(0, h), cx = rng.randint(0, w);
        const std::int64_t y0 = std::clamp<std::int64_t>(cy - box_h / 2, 0, h);
        const std::int64_t y1 = std::clamp<std::int64_t>(cy + box_h / 2, 0, h);
        const std::int64_t x0 = std::clamp<std::int64_t>(cx - box_w / 2, 0, w);
        const std::int64_t x1 = std::clamp<std::int64_t>(cx + box_w / 2, 0, w);
        for (std::int64_t c = 0; c < shape.c; ++c)
          for (std::int64_t y = y0; y < y1; ++y)
            std::copy(partner + c * plane + y * w + x0, partner + c * plane + y * w + x1,
                      row + c * plane + y * w + x0);
        own = 1.0 - static_cast<double>((y1 - y0) * (x1 - x0)) / static_cast<double>(plane);
      }
    }
    float* target = batch.targets.data() + i * classes;
    if (dense) {
      const float* mine = rows.data() + i * classes;
      const float* theirs = rows.data() + j * classes;
      for (std::int64_t c = 0; c < classes; ++c)
        target[c] = static_cast<float>(own * mine[c] + (1.0 - own) * theirs[c]);
      continue;
    }
    target[batch.labels[static_cast<std::size_t>(i)]] += static_cast<float>(own);
    target[batch.labels[static_cast<std::size_t>(j)]] += static_cast<float>(1.0 - own);
  }
}

}  // namespace kiln::pipeline
