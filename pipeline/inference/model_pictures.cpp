#include "pipeline/inference/model_pictures.hpp"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "io/decode.hpp"
#include "nn/error.hpp"
#include "pipeline/inference/predictor.hpp"

namespace kiln::pipeline {
namespace {

constexpr int kGap = 2;  // white pixels between tiles

// `values` (rows x cols, one or three planes laid one after another) stretched to 0..255.
cv::Mat stretched_tile(const float* values, int rows, int cols, int planes) {
  const auto count = static_cast<std::ptrdiff_t>(rows) * cols * planes;
  const auto [lo, hi] = std::minmax_element(values, values + count);
  const float span = *hi - *lo;
  std::vector<cv::Mat> channels;
  for (int p = 0; p < planes; ++p) {
    cv::Mat plane(rows, cols, CV_8U);
    for (int y = 0; y < rows; ++y) {
      for (int x = 0; x < cols; ++x) {
        const float v = values[(static_cast<std::ptrdiff_t>(p) * rows + y) * cols + x];
        plane.at<std::uint8_t>(y, x) =
            span > 0 ? static_cast<std::uint8_t>(std::lround(255.f * (v - *lo) / span)) : 0;
      }
    }
    channels.push_back(plane);
  }
  if (planes == 1)
    channels = {channels[0], channels[0], channels[0]};
  else
    std::swap(channels[0], channels[2]);  // the model's RGB to OpenCV's BGR
  cv::Mat tile;
  cv::merge(channels, tile);
  return tile;
}

// Tiles laid out `columns` to a row on white, each enlarged `scale` times.
cv::Mat grid(const std::vector<cv::Mat>& tiles, int columns, int scale) {
  if (tiles.empty()) return {};
  const int w = tiles[0].cols * scale, h = tiles[0].rows * scale;
  const int rows = (static_cast<int>(tiles.size()) + columns - 1) / columns;
  cv::Mat canvas(rows * (h + kGap) + kGap, columns * (w + kGap) + kGap, CV_8UC3,
                 cv::Scalar::all(255));
  for (std::size_t i = 0; i < tiles.size(); ++i) {
    const int r = static_cast<int>(i) / columns, c = static_cast<int>(i) % columns;
    cv::Mat big;
    cv::resize(tiles[i], big, {w, h}, 0, 0, cv::INTER_NEAREST);
    big.copyTo(canvas(cv::Rect(kGap + c * (w + kGap), kGap + r * (h + kGap), w, h)));
  }
  return canvas;
}

// An enlargement that makes the smaller side of a tile at least `at_least` pixels.
int scale_for(int rows, int cols, int at_least) {
  return std::max(1, (at_least + std::min(rows, cols) - 1) / std::min(rows, cols));
}

}  // namespace

std::size_t layer_index(const nn::Model& model, const std::string& name) {
  std::string names;
  for (std::size_t i = 0; i < model.size(); ++i) {
    if (model.layer_name(i) == name) return i;
    names += (names.empty() ? "" : ", ") + model.layer_name(i);
  }
  throw Error("the model has no layer '" + name + "'; its layers: " + names);
}

cv::Mat filter_grid(nn::Model& model, const std::string& layer) {
  std::size_t index = model.size();
  if (layer.empty()) {
    for (std::size_t i = 0; i < model.size() && index == model.size(); ++i) {
      if (model.layer(i).type() == "conv2d") index = i;
    }
    if (index == model.size()) throw Error("the model has no conv2d layer to draw filters of");
  } else {
    index = layer_index(model, layer);
    if (model.layer(index).type() != "conv2d") {
      throw Error("layer '" + layer + "' is a " + std::string(model.layer(index).type()) +
                  "; filters are drawn for conv2d layers");
    }
  }
  const nn::Tensor& w = model.layer(index).parameters().at(0)->value;  // (F, C, KH, KW)
  const nn::Shape s = w.shape();
  const int kh = static_cast<int>(s.h), kw = static_cast<int>(s.w);
  const int scale = scale_for(kh, kw, 24);
  std::vector<cv::Mat> tiles;
  const auto per_filter = static_cast<std::ptrdiff_t>(s.c) * kh * kw;
  // Colour: the first layer of an RGB model, one tile per filter.
  const bool colour = s.c == 3 && index == [&] {
    for (std::size_t i = 0; i < model.size(); ++i)
      if (model.layer(i).type() == "conv2d") return i;
    return model.size();
  }();
  if (colour) {
    for (std::int64_t f = 0; f < s.n; ++f)
      tiles.push_back(stretched_tile(w.span().data() + f * per_filter, kh, kw, 3));
    const int columns = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(s.n))));
    return grid(tiles, columns, scale);
  }
  for (std::int64_t f = 0; f < s.n; ++f) {
    for (std::int64_t c = 0; c < s.c; ++c) {
      tiles.push_back(stretched_tile(w.span().data() + f * per_filter + c * kh * kw, kh, kw, 1));
    }
  }
  // A single input channel: a square-ish grid of filters; several: a row per filter.
  const int columns = s.c == 1 ? static_cast<int>(std::ceil(std::sqrt(static_cast<double>(s.n))))
                               : static_cast<int>(s.c);
  return grid(tiles, columns, scale);
}

cv::Mat activation_grid(const nn::Model& model, const std::string& layer) {
  const std::size_t index = layer_index(model, layer);
  const nn::Tensor& out = model.layer_output(index);
  const nn::Shape s = out.shape();
  const int h = static_cast<int>(s.h), w = static_cast<int>(s.w);
  std::vector<cv::Mat> tiles;
  for (std::int64_t c = 0; c < s.c; ++c) {
    tiles.push_back(stretched_tile(out.span().data() + c * h * w, h, w, 1));
  }
  const int columns = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(s.c))));
  return grid(tiles, columns, scale_for(h, w, 48));
}

cv::Mat image_activation_grid(const std::string& model_path, const std::string& image_path,
                              const std::string& layer) {
  Predictor predictor(model_path);
  predictor.keep_layer_outputs();
  layer_index(predictor.model(), layer);  // a wrong name is said before the image is read
  std::vector<std::uint8_t> bytes;
  std::string error;
  if (!io::read_file(image_path, bytes, error)) throw Error(image_path + ": " + error);
  const io::DecodeResult decoded = io::decode_image(bytes, predictor.decode_options());
  if (!decoded.ok()) throw Error(image_path + ": " + decoded.reason + ": " + decoded.detail);
  predictor.probabilities(decoded.image);
  return activation_grid(predictor.model(), layer);
}

}  // namespace kiln::pipeline
