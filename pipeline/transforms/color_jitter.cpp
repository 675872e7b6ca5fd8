#include "pipeline/transforms/color_jitter.hpp"

#include <algorithm>
#include <cmath>

#include "nn/error.hpp"

namespace kiln::pipeline {
ColorJitter::ColorJitter(float brightness_range, float contrast_range, float saturation_range)
    : brightness(brightness_range), contrast(contrast_range), saturation(saturation_range) {
  validate();
}

ColorJitter ColorJitter::from_json(StageOptions& o) {
  ColorJitter t;
  o.read("brightness", t.brightness);
  o.read("contrast", t.contrast);
  o.read("saturation", t.saturation);
  t.validate();
  return t;
}

void ColorJitter::validate() const {
  for (const float r : {brightness, contrast, saturation}) {
    if (!(r >= 0.f && r <= 1.f))
      throw Error("color_jitter: ranges must be in [0, 1], got " + std::to_string(r));
  }
}

void ColorJitter::apply(const Draw& d, cv::Mat& image) const {
  if (d == Draw{}) return;
  const int channels = image.channels();
  const std::size_t pixels = image.total();
  // The three steps compose into one affine colour map, applied in one pass:
  //   brightness, contrast:  v2 = c·b·v + k,  k = (1 − c)·b·mean_grey(v)
  //   saturation:            v3 = s·v2 + (1 − s)·(w·v2)      (w = grey weights, Σw = 1)
  // so v3 = c·b·(s·I + (1 − s)·1wᵀ)·v + k, rounded half away from zero and clamped once.
  const cv::Scalar channel_means = cv::mean(image);
  const double mean_grey = channels == 1 ? channel_means[0]
                                         : 0.299 * channel_means[0] + 0.587 * channel_means[1] +
                                               0.114 * channel_means[2];
  const float gain = d.contrast * d.brightness;
  const auto k = static_cast<float>((1.0 - d.contrast) * d.brightness * mean_grey);
  auto to_byte = [](float x) {
    return static_cast<std::uint8_t>(x <= 0.f ? 0 : std::min(255, static_cast<int>(x + 0.5f)));
  };
  cv::Mat out(image.size(), image.type());
  const std::uint8_t* in = image.ptr<std::uint8_t>();
  std::uint8_t* dst = out.ptr<std::uint8_t>();
  if (channels == 1) {
    for (std::size_t i = 0; i < pixels; ++i) dst[i] = to_byte(gain * in[i] + k);
  } else {
    const float w[3] = {0.299f, 0.587f, 0.114f};
    float m[3][3];
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c)
        m[r][c] = gain * ((r == c ? d.saturation : 0.f) + (1.f - d.saturation) * w[c]);
    for (std::size_t i = 0; i < pixels; ++i) {
      const float r = in[3 * i], g = in[3 * i + 1], b = in[3 * i + 2];
      for (int c = 0; c < 3; ++c)
        dst[3 * i + c] = to_byte(m[c][0] * r + m[c][1] * g + m[c][2] * b + k);
    }
  }
  image = out;
}

}  // namespace kiln::pipeline
