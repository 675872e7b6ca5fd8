#include "pipeline/pack.hpp"

#include <cassert>
#include <vector>

namespace kiln::pipeline {

void pack_image(const cv::Mat& image, const Normalization& norm, std::span<float> out) {
  const int h = image.rows, w = image.cols, channels = image.channels();
  assert(image.isContinuous() && image.depth() == CV_8U);
  assert(static_cast<std::size_t>(channels) == norm.mean.size());
  assert(out.size() == static_cast<std::size_t>(h) * w * channels);
  // (x - m) / s = x * (1/s) + (-m/s): one multiply-add per pixel.
  float scale[4], offset[4];
  for (int c = 0; c < channels; ++c) {
    scale[c] = 1.f / norm.std[static_cast<std::size_t>(c)];
    offset[c] = -norm.mean[static_cast<std::size_t>(c)] * scale[c];
  }
  const std::uint8_t* in = image.ptr<std::uint8_t>();
  const std::size_t plane = static_cast<std::size_t>(h) * w;
  for (int c = 0; c < channels; ++c) {
    float* dst = out.data() + static_cast<std::size_t>(c) * plane;
    for (std::size_t i = 0; i < plane; ++i) {
      dst[i] = static_cast<float>(in[i * channels + c]) * scale[c] + offset[c];
    }
  }
}

}  // namespace kiln::pipeline
