#include "pipeline/transforms/random_erasing.hpp"

#include <cmath>

#include "nn/error.hpp"

namespace kiln::pipeline {

RandomErasing RandomErasing::from_json(StageOptions& o) {
  RandomErasing t;
  o.read("p", t.p);
  o.read_range("area_range", t.area_min, t.area_max);
  o.read_range("ratio_range", t.ratio_min, t.ratio_max);
  o.read("fill", t.fill);
  o.read("value", t.value);
  t.validate();
  return t;
}

Json RandomErasing::to_json() const {
  return {{"p", p},
          {"area_range", {area_min, area_max}},
          {"ratio_range", {ratio_min, ratio_max}},
          {"fill", fill},
          {"value", value}};
}

void RandomErasing::validate() const {
  if (!(p >= 0.f && p <= 1.f)) throw Error("random_erasing: p must be in [0, 1]");
  if (!(area_min > 0.f && area_min <= area_max && area_max <= 1.f)) {
    throw Error("random_erasing: area_range must satisfy 0 < lo <= hi <= 1");
  }
  if (!(ratio_min > 0.f && ratio_min <= ratio_max)) {
    throw Error("random_erasing: ratio_range must satisfy 0 < lo <= hi");
  }
  if (fill != "constant" && fill != "random" && fill != "mean") {
    throw Error("random_erasing: fill must be constant, random or mean, got '" + fill + "'");
  }
  if (value < 0 || value > 255) throw Error("random_erasing: value must be in [0, 255]");
}

RandomErasing::Draw RandomErasing::draw(cv::Size size, nn::Rng& rng) const {
  Draw d;
  if (!rng.bernoulli(p)) return d;
  const double area = static_cast<double>(size.width) * size.height;
  const double log_lo = std::log(ratio_min), log_hi = std::log(ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * rng.uniform(area_min, area_max);
    const double ratio =
        std::exp(rng.uniform(static_cast<float>(log_lo), static_cast<float>(log_hi)));
    const int h = static_cast<int>(std::lround(std::sqrt(target * ratio)));
    const int w = static_cast<int>(std::lround(std::sqrt(target / ratio)));
    if (w > 0 && h > 0 && w < size.width && h < size.height) {
      const int y = static_cast<int>(rng.randint(0, size.height - h + 1));
      const int x = static_cast<int>(rng.randint(0, size.width - w + 1));
      d.rect = cv::Rect(x, y, w, h);
      if (fill == "random") d.noise_seed = rng.next_u32() | std::uint64_t{rng.next_u32()} << 32;
      return d;
    }
  }
  return d;
}

void RandomErasing::apply(const Draw& d, cv::Mat& image) const {
  if (d.rect.empty()) return;
  // Into a new Mat: the input may share its buffer with another view of the sample.
  cv::Mat out = image.clone();
  cv::Mat area = out(d.rect & cv::Rect({0, 0}, out.size()));
  if (fill == "constant") {
    area.setTo(cv::Scalar::all(value));
  } else if (fill == "mean") {
    cv::Scalar mean = cv::mean(image);
    for (int c = 0; c < 4; ++c) mean[c] = std::round(mean[c]);
    area.setTo(mean);
  } else {
    nn::Rng noise({d.noise_seed, 0, 0, 0});
    for (int y = 0; y < area.rows; ++y) {
      std::uint8_t* row = area.ptr<std::uint8_t>(y);
      for (int x = 0; x < area.cols * area.channels(); ++x) {
        row[x] = static_cast<std::uint8_t>(noise.next_u32() >> 24);
      }
    }
  }
  image = out;
}

}  // namespace kiln::pipeline
