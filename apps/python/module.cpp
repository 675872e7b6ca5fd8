// `import kiln`: the loader and models of the kiln library for Python. Errors arrive as
// kiln.ConfigError (a ValueError: a mistake in what was asked) or kiln.Error (a RuntimeError:
// a bad file, a failed run), with kiln's one-line messages. Preprocessing stays a command:
// subprocess.run(["kiln", "preprocess", ...]).
#include <pybind11/pybind11.h>

#include "apps/python/loader.hpp"
#include "apps/python/model.hpp"
#include "nn/error.hpp"
#include "nn/version.hpp"

PYBIND11_MODULE(kiln, m) {
  m.doc() = "kiln: a streaming, augmenting image pipeline and CNN models, from C++.";
  m.attr("__version__") = kiln::kVersion;
  // Registered base first: pybind11 tries translators newest first, so ConfigError wins.
  pybind11::register_exception<kiln::Error>(m, "Error", PyExc_RuntimeError);
  pybind11::register_exception<kiln::ConfigError>(m, "ConfigError", PyExc_ValueError);
  kiln::python::bind_loader(m);
  kiln::python::bind_model(m);
}
