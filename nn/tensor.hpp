// Shape and Tensor: the one data container of kiln::nn.
// A Tensor is contiguous float32, row-major NCHW, and owns its storage. Dense data is (N, C, 1, 1).
// It is not a view type and has no autograd: layers own their forward/backward arithmetic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "nn/kernels/aligned_vector.hpp"

namespace kiln::nn {

struct Shape {
  std::int64_t n = 0, c = 0, h = 1, w = 1;

  std::int64_t count() const { return n * c * h * w; }
  std::int64_t per_sample() const { return c * h * w; }  // elements of one sample
  Shape with_n(std::int64_t new_n) const { return {new_n, c, h, w}; }
  std::string str() const;  // "(N, C, H, W)"
  bool operator==(const Shape&) const = default;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape, float fill = 0.f);

  const Shape& shape() const { return shape_; }
  std::int64_t size() const { return static_cast<std::int64_t>(data_.size()); }
  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }
  std::span<float> span() { return data_; }
  std::span<const float> span() const { return data_; }
  float& operator[](std::int64_t i) { return data_[static_cast<std::size_t>(i)]; }
  float operator[](std::int64_t i) const { return data_[static_cast<std::size_t>(i)]; }

  // Changes the shape; keeps capacity, so a layer's buffers stop allocating after the first batch.
  void resize(Shape shape);
  void fill(float value);

 private:
  Shape shape_;
  AlignedVector<float> data_;  // 64-byte aligned: see nn/kernels/aligned_vector.hpp
};

}  // namespace kiln::nn
