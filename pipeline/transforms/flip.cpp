#include "pipeline/transforms/flip.hpp"

#include "nn/error.hpp"

namespace kiln::pipeline {

HorizontalFlip::HorizontalFlip(float probability) : p(probability) {
  if (!(p >= 0.f && p <= 1.f)) {
    throw Error("horizontal_flip: p must be in [0, 1], got " + std::to_string(p));
  }
}

void HorizontalFlip::apply(const Draw& d, cv::Mat& image) const {
  if (!d.flip) return;
  // Into a new Mat: the input may share its buffer with another view of the sample.
  cv::Mat flipped;
  cv::flip(image, flipped, 1);
  image = flipped;
}

}  // namespace kiln::pipeline
