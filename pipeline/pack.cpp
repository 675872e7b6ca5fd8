#include "pipeline/pack.hpp"

#include <Eigen/Core>
#include <array>
#include <cassert>
#include <vector>

namespace kiln::pipeline {

namespace {

// (x − m) / s = x · (1/s) + (−m/s): one multiply-add per value, transposed HWC → CHW.
void pack_channel(const cv::Mat& image, const Normalization& norm, std::span<float> out) {
  const int channels = image.channels();
  float scale[4], offset[4];
  for (int c = 0; c < channels; ++c) {
    scale[c] = 1.f / norm.std[static_cast<std::size_t>(c)];
    offset[c] = -norm.mean[static_cast<std::size_t>(c)] * scale[c];
  }
  const std::uint8_t* in = image.ptr<std::uint8_t>();
  const std::size_t plane = image.total();
  for (int c = 0; c < channels; ++c) {
    float* dst = out.data() + static_cast<std::size_t>(c) * plane;
    for (std::size_t i = 0; i < plane; ++i) {
      dst[i] = static_cast<float>(in[i * channels + c]) * scale[c] + offset[c];
    }
  }
}

// The same through a table: 256 floats per channel, (table(x) − m) / s, computed once per image.
void pack_channel_table(const cv::Mat& image, const Normalization& norm, const ChannelTable& t,
                        std::span<float> out) {
  const int channels = image.channels();
  std::array<std::array<float, 256>, 3> value{};
  for (std::size_t c = 0; c < static_cast<std::size_t>(channels); ++c) {
    const float scale = 1.f / norm.std[c], offset = -norm.mean[c] * scale;
    for (std::size_t v = 0; v < 256; ++v)
      value[c][v] = static_cast<float>(t.values[c][v]) * scale + offset;
  }
  const std::uint8_t* in = image.ptr<std::uint8_t>();
  const std::size_t plane = image.total();
  for (int c = 0; c < channels; ++c) {
    const float* lookup = value[static_cast<std::size_t>(c)].data();
    float* dst = out.data() + static_cast<std::size_t>(c) * plane;
    for (std::size_t i = 0; i < plane; ++i) dst[i] = lookup[in[i * channels + c]];
  }
}

// (x − M[i]) / s[c], transposed HWC → CHW.
void pack_mean_image(const cv::Mat& image, const Normalization& norm, std::span<float> out) {
  const int channels = image.channels();
  const std::uint8_t* in = image.ptr<std::uint8_t>();
  const float* m = norm.mean_image.data();
  const std::size_t plane = image.total();
  for (int c = 0; c < channels; ++c) {
    const float scale = 1.f / norm.std[static_cast<std::size_t>(c)];
    float* dst = out.data() + static_cast<std::size_t>(c) * plane;
    for (std::size_t i = 0; i < plane; ++i) {
      const std::size_t k = i * channels + c;
      dst[i] = (static_cast<float>(in[k]) - m[k]) * scale;
    }
  }
}

// W · (x − M) / 255 over the flattened HWC image, then transposed to CHW.
void pack_zca(const cv::Mat& image, const Normalization& norm, std::span<float> out) {
  const int channels = image.channels();
  const auto d = static_cast<Eigen::Index>(norm.mean_image.size());
  const std::uint8_t* in = image.ptr<std::uint8_t>();
  Eigen::VectorXf centred(d);
  for (Eigen::Index k = 0; k < d; ++k) {
    centred[k] = (static_cast<float>(in[k]) - norm.mean_image[static_cast<std::size_t>(k)]) / 255.f;
  }
  const Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> w(
      norm.zca.data(), d, d);
  const Eigen::VectorXf white = w * centred;
  const std::size_t plane = image.total();
  for (int c = 0; c < channels; ++c) {
    float* dst = out.data() + static_cast<std::size_t>(c) * plane;
    for (std::size_t i = 0; i < plane; ++i)
      dst[i] = white[static_cast<Eigen::Index>(i * channels + c)];
  }
}

}  // namespace

void pack_image(const cv::Mat& image, const Normalization& norm, std::span<float> out,
                const ChannelTable* table) {
  if (table != nullptr && norm.mode != "channel") {
    cv::Mat looked_up = image.clone();
    table->apply(looked_up);
    pack_image(looked_up, norm, out);
    return;
  }
  assert(image.isContinuous() && image.depth() == CV_8U);
  assert(static_cast<std::size_t>(image.channels()) == norm.mean.size());
  assert(out.size() == image.total() * static_cast<std::size_t>(image.channels()));
  if (norm.mode != "channel") {
    norm.check_image_size(image.rows, image.cols, image.channels(), "pack");
  }
  if (norm.mode == "mean_image") {
    pack_mean_image(image, norm, out);
  } else if (norm.mode == "zca") {
    pack_zca(image, norm, out);
  } else if (table != nullptr) {
    pack_channel_table(image, norm, *table, out);
  } else {
    pack_channel(image, norm, out);
  }
}

}  // namespace kiln::pipeline
