#include "pipeline/transforms/flip.hpp"

#include "nn/error.hpp"

namespace kiln::pipeline {
namespace {

float checked_probability(float p, std::string_view owner) {
  if (!(p >= 0.f && p <= 1.f))
    throw Error(std::string(owner) + ": p must be in [0, 1], got " + std::to_string(p));
  return p;
}

// Into a new Mat: the input may share its buffer with another view of the sample.
void flip(cv::Mat& image, int code) {
  cv::Mat flipped;
  cv::flip(image, flipped, code);
  image = flipped;
}

}  // namespace

HorizontalFlip::HorizontalFlip(float probability) : p(checked_probability(probability, kName)) {}
void HorizontalFlip::apply(const Draw& d, cv::Mat& image) const {
  if (d.flip) flip(image, 1);
}

VerticalFlip::VerticalFlip(float probability) : p(checked_probability(probability, kName)) {}
void VerticalFlip::apply(const Draw& d, cv::Mat& image) const {
  if (d.flip) flip(image, 0);
}

}  // namespace kiln::pipeline
