#include "pipeline/transforms/flip.hpp"

#include "nn/error.hpp"

namespace kiln::pipeline {
namespace {

void check_probability(float p, std::string_view owner) {
  if (!(p >= 0.f && p <= 1.f))
    throw Error(std::string(owner) + ": p must be in [0, 1], got " + std::to_string(p));
}

// Into a new Mat: the input may share its buffer with another view of the sample.
void flip(cv::Mat& image, int code) {
  cv::Mat flipped;
  cv::flip(image, flipped, code);
  image = flipped;
}

}  // namespace

HorizontalFlip::HorizontalFlip(float probability) : p(probability) { validate(); }
HorizontalFlip HorizontalFlip::from_json(StageOptions& o) {
  HorizontalFlip t;
  o.read("p", t.p);
  t.validate();
  return t;
}
void HorizontalFlip::validate() const { check_probability(p, kName); }
void HorizontalFlip::apply(const Draw& d, cv::Mat& image) const {
  if (d.flip) flip(image, 1);
}

VerticalFlip::VerticalFlip(float probability) : p(probability) { validate(); }
VerticalFlip VerticalFlip::from_json(StageOptions& o) {
  VerticalFlip t;
  o.read("p", t.p);
  t.validate();
  return t;
}
void VerticalFlip::validate() const { check_probability(p, kName); }
void VerticalFlip::apply(const Draw& d, cv::Mat& image) const {
  if (d.flip) flip(image, 0);
}

}  // namespace kiln::pipeline
