#include "pipeline/channel_table.hpp"

#include <opencv2/core.hpp>

namespace kiln::pipeline {

ChannelTable ChannelTable::identity(int channels) {
  ChannelTable t;
  t.channels = channels;
  for (auto& channel : t.values)
    for (int v = 0; v < 256; ++v)
      channel[static_cast<std::size_t>(v)] = static_cast<std::uint8_t>(v);
  return t;
}

ChannelTable ChannelTable::then(const ChannelTable& next) const {
  ChannelTable out;
  out.channels = channels;
  for (std::size_t c = 0; c < 3; ++c)
    for (std::size_t v = 0; v < 256; ++v) out.values[c][v] = next.values[c][values[c][v]];
  return out;
}

void ChannelTable::apply(cv::Mat& image) const {
  cv::Mat table(1, 256, CV_8UC(channels));
  for (int v = 0; v < 256; ++v)
    for (int c = 0; c < channels; ++c)
      table.ptr<std::uint8_t>()[v * channels + c] =
          values[static_cast<std::size_t>(c)][static_cast<std::size_t>(v)];
  cv::Mat out;
  cv::LUT(image, table, out);
  image = out;
}

}  // namespace kiln::pipeline
