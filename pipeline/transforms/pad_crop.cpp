#include "pipeline/transforms/pad_crop.hpp"

#include "nn/error.hpp"

namespace kiln::pipeline {

PadCrop::PadCrop(int padding_pixels, int fill_value) : padding(padding_pixels), fill(fill_value) {
  validate();
}

PadCrop PadCrop::from_json(StageOptions& o) {
  PadCrop t;
  o.read("padding", t.padding);
  o.read("fill", t.fill);
  t.validate();
  return t;
}

void PadCrop::validate() const {
  if (padding < 0) throw Error("pad_crop: padding must be >= 0, got " + std::to_string(padding));
  if (fill < 0 || fill > 255)
    throw Error("pad_crop: fill must be in [0, 255], got " + std::to_string(fill));
}

void PadCrop::apply(const Draw& d, cv::Mat& image) const {
  if (d.dx == 0 && d.dy == 0) return;
  cv::Mat out(image.size(), image.type(), cv::Scalar::all(fill));
  // Source and destination rectangles of the part that stays inside the frame.
  const int w = image.cols - std::abs(d.dx), h = image.rows - std::abs(d.dy);
  if (w > 0 && h > 0) {
    const cv::Rect from(std::max(-d.dx, 0), std::max(-d.dy, 0), w, h);
    const cv::Rect to(std::max(d.dx, 0), std::max(d.dy, 0), w, h);
    image(from).copyTo(out(to));
  }
  image = out;
}

}  // namespace kiln::pipeline
