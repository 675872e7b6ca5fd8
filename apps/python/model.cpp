#include "apps/python/model.hpp"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cmath>
#include <opencv2/core.hpp>

#include "nn/error.hpp"
#include "pipeline/inference/predictor.hpp"

namespace py = pybind11;

namespace kiln::python {
namespace {

// One image of an (N, H, W[, C]) batch as the 8-bit Mat the predictor takes. Float pixels are on
// the 0..255 scale, as kiln stores them, and are rounded and clamped.
cv::Mat image_at(const py::array& batch, py::ssize_t n, int channels) {
  const auto h = static_cast<int>(batch.shape(1)), w = static_cast<int>(batch.shape(2));
  const int c = batch.ndim() == 4 ? static_cast<int>(batch.shape(3)) : 1;
  if (c != channels) {
    throw Error("the model takes images with " + std::to_string(channels) +
                " channel(s); got an array with " + std::to_string(c));
  }
  cv::Mat image(h, w, CV_8UC(c));
  const auto values = static_cast<std::size_t>(h) * w * c;
  if (py::isinstance<py::array_t<std::uint8_t>>(batch)) {
    const auto pixels = py::array_t<std::uint8_t, py::array::c_style>::ensure(batch);
    std::copy_n(pixels.data() + n * values, values, image.data);
  } else {
    const auto floats =
        py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(batch);
    const float* from = floats.data() + n * values;
    for (std::size_t i = 0; i < values; ++i) {
      image.data[i] = static_cast<std::uint8_t>(std::clamp(std::nearbyint(from[i]), 0.f, 255.f));
    }
  }
  return image;
}

py::array_t<float> predict(pipeline::Predictor& predictor, py::array images) {
  // One image: (H, W) grey, or (H, W, C) with C the model's channels; a 3-D array whose last
  // axis is not the channel count is a batch of grey images (N, H, W).
  const bool one_image =
      images.ndim() == 2 || (images.ndim() == 3 && images.shape(2) == predictor.channels());
  if (one_image) {
    images = images.attr("reshape")(py::make_tuple(1).attr("__add__")(images.attr("shape")));
  }
  if (images.ndim() != 3 && images.ndim() != 4) {
    throw Error("predict takes images as (N, H, W, C) or (H, W, C) arrays (grey: (N, H, W))");
  }
  const py::ssize_t count = images.shape(0);
  const auto classes = static_cast<py::ssize_t>(predictor.class_names().size());
  py::array_t<float> out({count, classes});
  for (py::ssize_t n = 0; n < count; ++n) {
    const cv::Mat image = image_at(images, n, predictor.channels());
    std::vector<float> p;
    {
      const py::gil_scoped_release computing;
      p = predictor.probabilities(image);
    }
    if (static_cast<py::ssize_t>(p.size()) != classes) {
      throw Error("the model gives " + std::to_string(p.size()) + " outputs for " +
                  std::to_string(classes) + " class names");
    }
    std::copy(p.begin(), p.end(), out.mutable_data(n, 0));
  }
  return out;
}

}  // namespace

void bind_model(py::module_& m) {
  py::class_<pipeline::Predictor>(m, "Model", R"(A model file, with the preprocessing it was
trained with (stored size, eval stages, normalization), for predictions.

    model = kiln.Model.load("model.h5", crops=10)
    probabilities = model.predict(images)   # uint8 (N, H, W, C): (N, classes) float32)")
      .def_static(
          "load",
          [](const std::string& path, int crops, std::vector<int> scales, int padding) {
            return pipeline::Predictor(path, pipeline::ViewRequest{.crops = crops,
                                                                   .scales = std::move(scales),
                                                                   .auto_scales = false,
                                                                   .padding = padding});
          },
          py::arg("path"), py::arg("crops") = 1, py::arg("scales") = std::vector<int>{},
          py::arg("padding") = -1,
          "crops: 1, 5 or 10 views per scale, their probabilities averaged, as kiln evaluate.")
      .def("predict", &predict, py::arg("images"),
           "Class probabilities of uint8 (or 0..255 float) images, (N, H, W, C) or one (H, W, C).")
      .def_property_readonly("class_names", &pipeline::Predictor::class_names)
      .def_property_readonly("channels", &pipeline::Predictor::channels);
}

}  // namespace kiln::python
