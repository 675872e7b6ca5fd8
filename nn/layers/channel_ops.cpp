#include "nn/layers/channel_ops.hpp"

#include <algorithm>

#include "nn/error.hpp"
#include "nn/layer_options.hpp"
#include "nn/parallel.hpp"

namespace kiln::nn {

ChannelShuffle::ChannelShuffle(std::int64_t groups) : groups_(groups) {
  if (groups_ <= 0) throw Error("channel_shuffle: groups must be > 0");
}

std::unique_ptr<Layer> ChannelShuffle::from_json(LayerOptions& o) {
  std::int64_t groups = 2;
  o.read("groups", groups);
  return std::make_unique<ChannelShuffle>(groups);
}

Shape ChannelShuffle::build(const Shape& input) {
  if (input.c % groups_ != 0) {
    throw Error("channel_shuffle: groups (" + std::to_string(groups_) + ") must divide the " +
                std::to_string(input.c) + " channels");
  }
  return input.with_n(1);
}

void ChannelShuffle::forward(const Tensor& x, Tensor& y, const StepContext& /*ctx*/) {
  const Shape& s = x.shape();
  const std::int64_t plane = s.h * s.w;
  y.resize(s);
  parallel_chunks(s.n * s.c, 16, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      const std::int64_t n = p / s.c, from = source_channel(p % s.c, s.c);
      std::copy_n(x.data() + (n * s.c + from) * plane, plane, y.data() + p * plane);
    }
  });
}

void ChannelShuffle::backward(const Tensor& x, const Tensor& /*y*/, const Tensor& dy, Tensor& dx) {
  const Shape& s = x.shape();
  const std::int64_t plane = s.h * s.w;
  dx.resize(s);
  parallel_chunks(s.n * s.c, 16, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      const std::int64_t n = p / s.c, to = source_channel(p % s.c, s.c);
      std::copy_n(dy.data() + p * plane, plane, dx.data() + (n * s.c + to) * plane);
    }
  });
}

ChannelSlice::ChannelSlice(std::int64_t begin, std::int64_t end) : begin_(begin), end_(end) {
  if (begin_ < 0 || end_ <= begin_) {
    throw Error("channel_slice: needs 0 <= begin < end, got begin " + std::to_string(begin_) +
                ", end " + std::to_string(end_));
  }
}

std::unique_ptr<Layer> ChannelSlice::from_json(LayerOptions& o) {
  std::int64_t begin = 0, end = 0;
  o.read("begin", begin);
  o.read("end", end);
  return std::make_unique<ChannelSlice>(begin, end);
}

Shape ChannelSlice::build(const Shape& input) {
  if (begin_ >= input.c) {
    throw Error("channel_slice: begin " + std::to_string(begin_) + " is past the input's " +
                std::to_string(input.c) + " channels");
  }
  return {1, std::min(end_, input.c) - begin_, input.h, input.w};
}

void ChannelSlice::forward(const Tensor& x, Tensor& y, const StepContext& /*ctx*/) {
  const Shape& s = x.shape();
  const Shape out = build(s);
  const std::int64_t block = out.c * s.h * s.w, offset = begin_ * s.h * s.w;
  y.resize(out.with_n(s.n));
  parallel_chunks(s.n, 1, [&](std::int64_t n0, std::int64_t n1) {
    for (std::int64_t n = n0; n < n1; ++n)
      std::copy_n(x.data() + n * s.per_sample() + offset, block, y.data() + n * block);
  });
}

void ChannelSlice::backward(const Tensor& x, const Tensor& /*y*/, const Tensor& dy, Tensor& dx) {
  const Shape& s = x.shape();
  const std::int64_t block = dy.shape().per_sample(), offset = begin_ * s.h * s.w;
  dx.resize(s);
  dx.fill(0.f);
  parallel_chunks(s.n, 1, [&](std::int64_t n0, std::int64_t n1) {
    for (std::int64_t n = n0; n < n1; ++n)
      std::copy_n(dy.data() + n * block, block, dx.data() + n * s.per_sample() + offset);
  });
}

}  // namespace kiln::nn
