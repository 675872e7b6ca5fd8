// Sample: one image travelling through the flow graph (docs/design.md).
// position orders the epoch (the sequencer's key); index is the dataset index (the RNG key).
// Failures travel as data in `error`: an exception thrown in a graph body would cancel the graph.
#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/channel_table.hpp"

namespace kiln::pipeline {

struct Sample {
  std::uint64_t position = 0;  // place in this epoch's order: 0, 1, 2, ...
  std::uint64_t index = 0;     // index in the dataset
  std::int32_t label = 0;
  cv::Mat image;                      // (H, W, C) uint8, RGB or L, until packed into its batch
  std::vector<cv::Mat> views;         // evaluation with views: the views of `image`, replacing it
  std::string error;                  // non-empty: what went wrong with this sample
  std::uint32_t stages_done = 0;      // 1 when the reader ran the first stage (a window crop)
  std::optional<ChannelTable> table;  // trailing table stages, folded into the pack step
};

}  // namespace kiln::pipeline
