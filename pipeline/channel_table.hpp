// ChannelTable: a lookup table per channel on uint8 values — the whole effect of a colour
// transform that moves every pixel alike, channel by channel (PCA lighting's offset, with its
// rounding and clamping). Tables compose, and the pack step applies one while it converts to
// float anyway, so trailing table stages cost no pass over the image of their own.
#pragma once

#include <array>
#include <cstdint>
#include <opencv2/core.hpp>

namespace kiln::pipeline {

struct ChannelTable {
  int channels = 0;  // 1 or 3
  std::array<std::array<std::uint8_t, 256>, 3> values{};

  static ChannelTable identity(int channels);
  // This table, then `next`.
  ChannelTable then(const ChannelTable& next) const;
  // requires: image is CV_8UC(channels).
  void apply(cv::Mat& image) const;
};

}  // namespace kiln::pipeline
