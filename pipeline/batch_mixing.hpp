// Batch mixing: the training stages that see a whole micro-batch, mixup (Zhang et al. 2018) and
// CutMix (Yun et al. 2019), and timm's switch between them. Config form, last in `augment`:
//   {"type": "mixup", "alpha": 0.2}
//   {"type": "cutmix", "alpha": 1.0}
//   {"type": "mixup_cutmix", "mixup_alpha": 0.8, "cutmix_alpha": 1.0, "switch_prob": 0.5}
// each with an optional "p" (default 1): the chance that a row is mixed at all.
//
// Row i of a micro-batch of n rows is mixed with row n − 1 − i (timm's default pairing: the
// batch flipped), so a micro-batch is all a row needs: the result is the same for any thread or
// rank count, and a mid-epoch resume mixes alike. Every draw of row i is keyed by
// (seed, epoch, its dataset index, kSlotBatchMix): whether it mixes, which of the two, λ ~
// Beta(α, α), and CutMix's box centre.
//   mixup:  x_i ← λ·x_i + (1 − λ)·x_j,   target λ·onehot(y_i) + (1 − λ)·onehot(y_j)
//   cutmix: a box of area (1 − λ)·H·W, centred at a uniform pixel and clipped to the image, is
//           pasted from x_j; the target weighs y_j by the area actually pasted after clipping.
// The targets go to Batch::targets (N, K); labels keep each row's own class (accuracy counts
// against it). Evaluation never mixes: these stages have no eval form.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "nn/batch_source.hpp"
#include "nn/json.hpp"
#include "nn/random.hpp"

namespace kiln::pipeline {

class BatchMixing {
 public:
  // stage: one entry of `augment` whose type is_batch_stage(). Throws kiln::Error naming the
  // stage and the option at fault.
  static BatchMixing from_json(const Json& stage);
  Json config() const;
  // Whether CutMix may be drawn: a pasted box mixes the pixels, which no regression value follows.
  bool may_cutmix() const { return cutmix_alpha_ > 0; }

  // Mixes `batch` in place and writes its targets, for `classes` classes (or target values).
  // A batch that carries target rows (multi_label, regression) has those rows mixed with the same
  // weights instead of one-hot labels.
  void apply(nn::Batch& batch, std::uint64_t seed, std::uint64_t epoch, std::int64_t classes) const;

 private:
  double mixup_alpha_ = 0;    // > 0: mixup may be drawn
  double cutmix_alpha_ = 0;   // > 0: cutmix may be drawn
  double switch_prob_ = 0.5;  // with both: the chance of cutmix
  double p_ = 1.0;
  std::string type_;
};

bool is_batch_stage(const std::string& type);

// A training stage list split into its per-sample stages and its batch stage (null: none).
// Throws kiln::Error when a batch stage is not the last, or there are two.
std::pair<Json, Json> split_batch_stage(const Json& stages);

// λ ~ Beta(α, α) from rng, by two Gamma(α) draws (Marsaglia & Tsang 2000).
double draw_beta(nn::Rng& rng, double alpha);

}  // namespace kiln::pipeline
