#include "apps/python/loader.hpp"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "io/dataset_reader.hpp"
#include "nn/error.hpp"
#include "pipeline/batch_mixing.hpp"
#include "pipeline/graph.hpp"
#include "pipeline/normalize.hpp"
#include "pipeline/transforms/pca_lighting.hpp"
#include "pipeline/transforms/registry.hpp"

namespace py = pybind11;

namespace kiln::python {
namespace {

// A stage list from Python: None, a list of dicts (through json.dumps), or JSON text.
Json stage_list(const py::object& augment) {
  if (augment.is_none()) return Json::array();
  const std::string text =
      py::isinstance<py::str>(augment)
          ? augment.cast<std::string>()
          : py::module_::import("json").attr("dumps")(augment).cast<std::string>();
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    throw ConfigError(std::string("augment: not valid JSON: ") + e.what());
  }
}

// Stored pixels as floats, unchanged: normalize=False hands them back as uint8.
pipeline::Normalization identity(const io::DatasetReader& reader) {
  const auto channels = static_cast<std::size_t>(reader.channels());
  return {reader.channel_order(), std::vector<float>(channels, 0.f),
          std::vector<float>(channels, 1.f)};
}

// A batch tensor owned by a NumPy array. When Python frees the array, the tensor goes back to the
// loader's pool (if the loader still exists), so later batches reuse its memory instead of
// faulting in fresh pages.
struct OwnedBatch {
  nn::Tensor tensor;
  std::weak_ptr<pipeline::TensorPool> pool;
};

// The batch tensor handed to NumPy without a copy: the array owns it.
py::array_t<float> as_array(nn::Tensor&& tensor, std::weak_ptr<pipeline::TensorPool> pool) {
  auto* owned = new OwnedBatch{std::move(tensor), std::move(pool)};
  const py::capsule release(owned, [](void* p) {
    auto* batch = static_cast<OwnedBatch*>(p);
    if (auto live = batch->pool.lock()) live->give(std::move(batch->tensor));
    delete batch;
  });
  const nn::Shape s = owned->tensor.shape();
  return py::array_t<float>({s.n, s.c, s.h, s.w}, owned->tensor.data(), release);
}

// NCHW floats holding whole pixel values → NHWC uint8, the one copy of this path.
py::array_t<std::uint8_t> as_pixels(const nn::Tensor& tensor) {
  const nn::Shape s = tensor.shape();
  py::array_t<std::uint8_t> out({s.n, s.h, s.w, s.c});
  std::uint8_t* dst = out.mutable_data();
  const float* src = tensor.data();
  const std::int64_t plane = s.h * s.w;
  for (std::int64_t n = 0; n < s.n; ++n) {
    for (std::int64_t c = 0; c < s.c; ++c) {
      const float* from = src + (n * s.c + c) * plane;
      std::uint8_t* to = dst + n * plane * s.c + c;
      for (std::int64_t i = 0; i < plane; ++i) to[i * s.c] = static_cast<std::uint8_t>(from[i]);
    }
  }
  return out;
}

}  // namespace

PyLoader::PyLoader(const LoaderArgs& a)
    : normalize_(a.normalize), batch_size_(a.batch_size), drop_last_(a.drop_last) {
  auto reader = std::make_shared<const io::DatasetReader>(a.path);
  task_ = reader->task();
  // A batch stage (mixup, cutmix) closes the list; it mixes training batches only, as in kiln
  // train, and has no eval form.
  Json per_sample, batch_stage;
  try {
    std::tie(per_sample, batch_stage) = pipeline::split_batch_stage(stage_list(a.augment));
  } catch (const Error& e) {
    throw ConfigError(std::string("augment: ") + e.what());
  }
  const Json stages =
      pipeline::with_fitted_pca(per_sample, reader->statistics().covariance, a.path);
  pipeline::LoaderOptions o;
  o.batch_size = a.batch_size;
  o.seed = a.seed;
  o.mode = a.train ? nn::Mode::kTrain : nn::Mode::kEval;
  o.shuffle = a.shuffle;
  o.threads = a.threads;
  o.drop_last = a.drop_last;
  o.limit = a.limit;
  if (!batch_stage.is_null() && a.train) {
    const std::string type = batch_stage.at("type").get<std::string>();
    if (!a.normalize) {
      throw ConfigError("augment: " + type +
                        " blends pixels into fractions, which uint8 batches cannot hold; use "
                        "normalize=True");
    }
    try {
      o.mixing = pipeline::BatchMixing::from_json(batch_stage);
    } catch (const Error& e) {
      throw ConfigError(std::string("augment: ") + e.what());
    }
    if (o.mixing->may_cutmix() && task_ == nn::Task::kRegression) {
      throw ConfigError("augment: " + type +
                        " pastes a box of another image, which no regression value follows; "
                        "use mixup with regression data");
    }
  }
  pipeline::Normalization normalization =
      a.normalize
          ? pipeline::Normalization::from_statistics(reader->statistics(), reader->channel_order())
          : identity(*reader);
  std::vector<std::unique_ptr<pipeline::Stage>> made;
  try {
    made = pipeline::make_stages(stages);
  } catch (const Error& e) {
    throw ConfigError(std::string("augment: ") + e.what());
  }
  loader_ =
      std::make_unique<pipeline::Loader>(reader, std::move(normalization), std::move(made), o);
}

std::int64_t PyLoader::samples() const { return loader_->num_samples(); }

std::int64_t PyLoader::batches() const {
  const std::int64_t n = loader_->num_samples();
  return drop_last_ ? n / batch_size_ : (n + batch_size_ - 1) / batch_size_;
}

PyLoader& PyLoader::start() {
  loader_->start_epoch(epoch_);
  running_ = true;
  return *this;
}

py::tuple PyLoader::next() {
  if (!running_) throw py::stop_iteration();
  bool more = false;
  {
    const py::gil_scoped_release waiting;  // other Python threads run while the graph works
    more = loader_->next(batch_);
  }
  if (!more) {
    running_ = false;
    throw py::stop_iteration();
  }
  // Classification: int32 labels (N). Multi-label and regression: the float32 target rows (N, K).
  py::object targets = py::array_t<std::int32_t>(static_cast<py::ssize_t>(batch_.labels.size()),
                                                 batch_.labels.data());
  if (batch_.targets.size() > 0) {
    const nn::Shape s = batch_.targets.shape();
    targets = py::array_t<float>({s.n, s.per_sample()}, batch_.targets.data());
  }
  indices_ = batch_.indices;
  if (!normalize_) return py::make_tuple(as_pixels(batch_.inputs), targets);
  return py::make_tuple(as_array(std::move(batch_.inputs), loader_->tensor_pool()), targets);
}

void bind_loader(py::module_& m) {
  py::class_<PyLoader>(m, "Loader", R"(Batches of a kiln dataset, augmented and normalized as
kiln train makes them: the same flow graph, randomness keyed by (seed, epoch, sample, stage), and
the same batches bit for bit, whatever the thread count.

    loader = kiln.Loader("train.h5", augment=[{"type": "pad_crop", "padding": 4}], batch_size=128)
    for epoch in range(10):
        loader.set_epoch(epoch)
        for images, labels in loader:   # float32 (N, C, H, W), int32 (N)
            ...

Each images array owns its memory (no buffer is recycled under it). normalize=False yields the
augmented pixels as uint8 (N, H, W, C) instead. A multi-label or regression dataset (kiln
preprocess --task) yields its target rows, float32 (N, K), in place of the labels; `task` says
which. A last stage mixup, cutmix or mixup_cutmix mixes each training batch as kiln train does,
and its batches carry the mixed target rows, float32 (N, classes), in place of the labels.)")
      .def(py::init([](std::string path, py::object augment, std::int64_t batch_size,
                       std::uint64_t seed, bool shuffle, int threads, bool train, bool drop_last,
                       bool normalize, std::int64_t limit) {
             return PyLoader({std::move(path), std::move(augment), batch_size, seed, shuffle,
                              threads, train, drop_last, normalize, limit});
           }),
           py::arg("path"), py::arg("augment") = py::none(), py::arg("batch_size") = 64,
           py::arg("seed") = 1, py::arg("shuffle") = true, py::arg("threads") = 0,
           py::arg("train") = true, py::arg("drop_last") = false, py::arg("normalize") = true,
           py::arg("limit") = 0)
      .def("set_epoch", &PyLoader::set_epoch, py::arg("epoch"),
           "The epoch the next iteration streams (as DistributedSampler.set_epoch).")
      .def_property_readonly("epoch_number", &PyLoader::epoch)
      .def(
          "epoch",
          [](PyLoader& l, std::uint64_t e) -> PyLoader& {
            l.set_epoch(e);
            return l.start();
          },
          py::arg("epoch"), py::return_value_policy::reference_internal,
          "Iterate epoch `epoch`: `for x, y in loader.epoch(3): ...`.")
      .def_property_readonly("samples", &PyLoader::samples, "Samples per epoch.")
      .def_property_readonly(
          "task", [](const PyLoader& l) { return std::string(nn::task_name(l.task())); },
          "classification, multi_label or regression: what the second array of a batch holds.")
      .def_property_readonly(
          "indices",
          [](const PyLoader& l) {
            return py::array_t<std::uint64_t>(static_cast<py::ssize_t>(l.indices().size()),
                                              l.indices().data());
          },
          "Dataset indices (rows of the file) of the last batch, in batch order.")
      .def("__len__", &PyLoader::batches, "Batches per epoch.")
      .def("__iter__", &PyLoader::start, py::return_value_policy::reference_internal)
      .def("__next__", &PyLoader::next);
}

}  // namespace kiln::python
