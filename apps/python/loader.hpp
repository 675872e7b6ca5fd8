// kiln.Loader: the training pipeline (pipeline/loader.hpp) as a Python iterable of NumPy batches.
// The same flow graph, keyed randomness and batches as `kiln bench pipeline` and `kiln train`.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nn/batch_source.hpp"
#include "pipeline/loader.hpp"

namespace kiln::python {

struct LoaderArgs {
  std::string path;
  pybind11::object augment;  // None, a list of stage dicts, or its JSON text
  std::int64_t batch_size = 64;
  std::uint64_t seed = 1;
  bool shuffle = true;
  int threads = 0;
  bool train = true;
  bool drop_last = false;
  bool normalize = true;
  std::int64_t limit = 0;
};

class PyLoader {
 public:
  explicit PyLoader(const LoaderArgs& args);

  std::int64_t batches() const;  // per epoch
  std::int64_t samples() const;  // per epoch
  void set_epoch(std::uint64_t epoch) { epoch_ = epoch; }
  std::uint64_t epoch() const { return epoch_; }
  // Starts the epoch set by set_epoch() (0 at first) and returns the loader as its iterator.
  PyLoader& start();
  // (images, labels): float32 (N, C, H, W) normalized, or uint8 (N, H, W, C) with
  // normalize=False; int32 (N), or for multi_label and regression data, and for any training
  // batch a mixup or cutmix stage mixed, float32 target rows (N, K). Raises StopIteration at the
  // end of the epoch.
  pybind11::tuple next();
  const std::vector<std::uint64_t>& indices() const { return indices_; }
  nn::Task task() const { return task_; }

 private:
  std::unique_ptr<pipeline::Loader> loader_;
  bool normalize_;
  nn::Task task_ = nn::Task::kClassification;
  std::int64_t batch_size_;
  bool drop_last_;
  std::uint64_t epoch_ = 0;
  bool running_ = false;
  nn::Batch batch_;
  std::vector<std::uint64_t> indices_;  // of the last batch handed out
};

void bind_loader(pybind11::module_& m);

}  // namespace kiln::python
