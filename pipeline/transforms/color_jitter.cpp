#include "pipeline/transforms/color_jitter.hpp"

#include <algorithm>
#include <cmath>

#include "nn/error.hpp"

namespace kiln::pipeline {
ColorJitter::ColorJitter(float brightness_range, float contrast_range, float saturation_range)
    : brightness(brightness_range), contrast(contrast_range), saturation(saturation_range) {
  for (const float r : {brightness, contrast, saturation}) {
    if (!(r >= 0.f && r <= 1.f))
      throw Error("color_jitter: ranges must be in [0, 1], got " + std::to_string(r));
  }
}

void ColorJitter::apply(const Draw& d, cv::Mat& image) const {
  if (d == Draw{}) return;
  const int channels = image.channels();
  const std::size_t pixels = image.total();
  const std::uint8_t* in = image.ptr<std::uint8_t>();
  // Work in float through the three steps, round once at the end.
  std::vector<float> v(in, in + pixels * static_cast<std::size_t>(channels));
  for (float& x : v) x *= d.brightness;
  double mean = 0.0;  // of the grey image after brightness
  for (std::size_t i = 0; i < pixels; ++i) {
    const float* p = v.data() + i * static_cast<std::size_t>(channels);
    mean +=
        channels == 1 ? p[0] : 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];  // RGB inside kiln
  }
  mean /= static_cast<double>(std::max<std::size_t>(pixels, 1));
  const float offset = (1.f - d.contrast) * static_cast<float>(mean);
  for (float& x : v) x = d.contrast * x + offset;
  if (channels == 3) {
    for (std::size_t i = 0; i < pixels; ++i) {
      float* p = v.data() + i * 3;
      const float g = 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
      for (int c = 0; c < 3; ++c) p[c] = d.saturation * p[c] + (1.f - d.saturation) * g;
    }
  }
  cv::Mat out(image.size(), image.type());
  std::uint8_t* dst = out.ptr<std::uint8_t>();
  for (std::size_t i = 0; i < v.size(); ++i)
    dst[i] = static_cast<std::uint8_t>(std::clamp(std::lround(v[i]), 0L, 255L));
  image = out;
}

}  // namespace kiln::pipeline
