// ViewHint: what a training stage tells multi-crop evaluation about the images it trained on
// (default_views, pipeline/inference/evaluator.hpp). Each stage answers for itself, so the
// evaluator reads no stage's options.
#pragma once

#include <optional>
#include <utility>

namespace kiln::pipeline {

struct ViewHint {
  std::optional<int> eval_short_side;              // crops: the short side eval resizes to
  std::optional<std::pair<int, int>> short_sides;  // scale_crop: the range training drew from
  std::optional<int> shift;                        // pad_crop: the largest shift trained on
  int fill = 0;                                    // pad_crop: the value shifted-in pixels took
};

}  // namespace kiln::pipeline
