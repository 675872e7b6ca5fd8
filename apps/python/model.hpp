// kiln.Model: a model file with its stored preprocessing, predicting NumPy images.
#pragma once

#include <pybind11/pybind11.h>

namespace kiln::python {

void bind_model(pybind11::module_& m);

}  // namespace kiln::python
