#include "nn/tensor.hpp"

#include <algorithm>

namespace kiln::nn {

std::string Shape::str() const {
  return "(" + std::to_string(n) + ", " + std::to_string(c) + ", " + std::to_string(h) + ", " +
         std::to_string(w) + ")";
}

Tensor::Tensor(Shape shape, float fill)
    : shape_(shape), data_(static_cast<std::size_t>(shape.count()), fill) {}

void Tensor::resize(Shape shape) {
  shape_ = shape;
  data_.resize(static_cast<std::size_t>(shape.count()));
}

void Tensor::fill(float value) { std::fill(data_.begin(), data_.end(), value); }

}  // namespace kiln::nn
