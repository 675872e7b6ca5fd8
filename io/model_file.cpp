#include "io/model_file.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "io/atomic_file.hpp"
#include "io/file_format.hpp"
#include "io/h5.hpp"
#include "nn/error.hpp"

namespace kiln::io {
namespace {

constexpr const char* kModelFormat = "kiln-model";
// Version 2 added graph models: layers may have a name, inputs and trainable = false. A version 1
// file holds a chain, which version 2 reads as it is.
constexpr std::int64_t kModelFormatVersion = 2;
constexpr std::int64_t kOldestModelFormatVersion = 1;

std::string layer_group_name(std::size_t index, std::string_view type) {
  char prefix[16];
  std::snprintf(prefix, sizeof prefix, "%02zu_", index);
  return prefix + std::string(type);
}

std::vector<std::uint64_t> dims_of(const nn::Shape& s) {
  return {static_cast<std::uint64_t>(s.n), static_cast<std::uint64_t>(s.c),
          static_cast<std::uint64_t>(s.h), static_cast<std::uint64_t>(s.w)};
}

Json parse_json_attribute(const h5::Object& obj, const std::string& key) {
  try {
    return Json::parse(obj.string_attribute(key));
  } catch (const Json::exception& e) {
    throw Error(obj.where() + ": attribute '" + key + "' is not valid JSON: " + e.what());
  }
}

// Every array is one chunk with a Fletcher-32 checksum, so a damaged byte fails the load instead
// of altering a weight. (HDF5 checksums chunks only; empty arrays stay contiguous.)
h5::Dataset create_checked(h5::Location& at, const std::string& name,
                           const std::vector<std::uint64_t>& dims, const float* values) {
  const bool empty = std::any_of(dims.begin(), dims.end(), [](std::uint64_t d) { return d == 0; });
  h5::DatasetOptions options;
  if (!empty) {
    options.chunk = dims;
    options.checksum = true;
  }
  h5::Dataset d = at.create_dataset(name, h5::Type::kF32, dims, options);
  d.write(values, h5::Type::kF32);
  return d;
}

// A one-dimensional float32 array.
std::vector<float> read_floats(h5::Dataset d) {
  std::vector<float> values(d.dims().at(0));
  if (!values.empty()) d.read(values.data(), h5::Type::kF32);
  return values;
}

// A mid-epoch checkpoint's EpochProgress: a group of attributes, absent between epochs.
void save_progress(h5::Group& train_state, const nn::EpochProgress& p) {
  h5::Group g = train_state.create_group("epoch_progress");
  g.set_attribute("batches", p.batches);
  g.set_attribute("samples", p.samples);
  g.set_attribute("correct", p.correct);
  g.set_attribute("correct_top5", p.correct_top5);
  g.set_attribute("loss_sum", p.loss_sum);
  g.set_attribute("absolute_error_sum", p.absolute_error_sum);
  g.set_attribute("seconds", p.seconds);
}

nn::EpochProgress load_progress(h5::Group& train_state) {
  h5::Group g = train_state.open_group("epoch_progress");
  nn::EpochProgress p;
  p.batches = g.int_attribute("batches");
  p.samples = g.int_attribute("samples");
  p.correct = g.int_attribute("correct");
  p.correct_top5 = g.int_attribute("correct_top5");
  p.loss_sum = g.double_attribute("loss_sum");
  // Checkpoints written before regression existed lack it: their sum is 0.
  if (g.has_attribute("absolute_error_sum"))
    p.absolute_error_sum = g.double_attribute("absolute_error_sum");
  p.seconds = g.double_attribute("seconds");
  if (p.batches < 0 || p.samples < 0 || p.correct < 0 || p.correct > p.samples) {
    throw Error(g.where() + ": the epoch's progress is impossible; the file is damaged");
  }
  return p;
}

}  // namespace

void save_model(const std::string& path, nn::Model& model, const nn::Optimizer& optimizer,
                const nn::TrainState& state, const Json& preprocessing,
                const std::vector<std::string>& class_names, const PreprocessingArrays& arrays,
                CallbackArrays callback_arrays) {
  AtomicFile atomic(path);
  {
    h5::File f = h5::File::create(atomic.temp_path().string(), path);
    f.set_attribute("format", std::string(kModelFormat));
    f.set_attribute("format_version", kModelFormatVersion);
    f.set_attribute("config", model.config().dump());
    f.set_attribute("optimizer", optimizer.config().dump());
    f.set_attribute("preprocessing", preprocessing.dump());
    f.set_attribute("class_names", class_names);
    if (!arrays.empty()) {
      h5::Group g = f.create_group("preprocessing_arrays");
      for (const auto& [name, values] : arrays) {
        create_checked(g, name, {values.size()}, values.data());
      }
    }

    {
      h5::Group weights = f.create_group("weights");
      for (std::size_t i = 0; i < model.size(); ++i) {
        nn::Layer& layer = model.layer(i);
        h5::Group g = weights.create_group(layer_group_name(i, layer.type()));
        for (nn::Parameter* p : layer.parameters()) {
          create_checked(g, p->name, dims_of(p->value.shape()), p->value.data());
        }
        for (nn::Buffer* b : layer.buffers()) {
          create_checked(g, b->name, dims_of(b->value.shape()), b->value.data());
        }
      }
    }
    {
      const nn::OptimizerState opt = optimizer.state();
      h5::Group g = f.create_group("optimizer");
      g.set_attribute("iterations", opt.iterations);
      g.set_attribute("slot_arrays", static_cast<std::int64_t>(opt.slots.size()));
      for (std::size_t i = 0; i < opt.slots.size(); ++i) {
        create_checked(g, "state" + std::to_string(i), {opt.slots[i].size()}, opt.slots[i].data());
      }
    }
    {
      h5::Group g = f.create_group("train_state");
      g.set_attribute("seed", static_cast<std::int64_t>(state.seed));
      g.set_attribute("epoch", state.epoch);
      g.set_attribute("step", state.step);
      g.set_attribute("learning_rate", static_cast<double>(state.learning_rate));
      g.set_attribute("rate_scale", state.rate_scale);
      g.set_attribute("callbacks", state.callbacks.dump());
      if (state.progress.batches > 0) save_progress(g, state.progress);
      if (callback_arrays == CallbackArrays::kSave && !state.callback_arrays.empty()) {
        h5::Group arrays_group = g.create_group("callback_arrays");
        for (const auto& [name, values] : state.callback_arrays) {
          create_checked(arrays_group, name, {values.size()}, values.data());
        }
      }
    }
    f.close();
  }
  atomic.commit();
}

ModelBundle load_model(const std::string& path) {
  h5::File f = h5::File::open_read(path);
  const std::int64_t version =
      check_file_format(f, kModelFormat, kOldestModelFormatVersion, kModelFormatVersion,
                        "kiln train writes model files");
  ModelBundle bundle{nn::Model::from_config(parse_json_attribute(f, "config")),
                     parse_json_attribute(f, "optimizer"),
                     {},
                     {},
                     parse_json_attribute(f, "preprocessing"),
                     f.strings_attribute("class_names")};
  bundle.format_version = version;

  if (f.exists("preprocessing_arrays")) {
    h5::Group g = f.open_group("preprocessing_arrays");
    for (const std::string& name : g.child_names()) {
      bundle.arrays.emplace(name, read_floats(g.open_dataset(name)));
    }
  }

  h5::Group weights = f.open_group("weights");
  for (std::size_t i = 0; i < bundle.model.size(); ++i) {
    nn::Layer& layer = bundle.model.layer(i);
    std::vector<std::pair<std::string, nn::Tensor*>> tensors;
    for (nn::Parameter* p : layer.parameters()) tensors.emplace_back(p->name, &p->value);
    for (nn::Buffer* b : layer.buffers()) tensors.emplace_back(b->name, &b->value);
    if (tensors.empty()) continue;
    h5::Group g = weights.open_group(layer_group_name(i, layer.type()));
    for (auto& [name, tensor] : tensors) {
      h5::Dataset d = g.open_dataset(name);
      if (d.dims() != dims_of(tensor->shape())) {
        throw Error(d.where() + ": shape does not match the layer's " + tensor->shape().str() +
                    "; the file is damaged");
      }
      d.read(tensor->data(), h5::Type::kF32);
    }
  }

  h5::Group opt = f.open_group("optimizer");
  bundle.optimizer_state.iterations = opt.int_attribute("iterations");
  const std::int64_t slot_arrays = opt.int_attribute("slot_arrays");
  for (std::int64_t i = 0; i < slot_arrays; ++i) {
    bundle.optimizer_state.slots.push_back(
        read_floats(opt.open_dataset("state" + std::to_string(i))));
  }

  h5::Group ts = f.open_group("train_state");
  bundle.train_state.seed = static_cast<std::uint64_t>(ts.int_attribute("seed"));
  bundle.train_state.epoch = ts.int_attribute("epoch");
  bundle.train_state.step = ts.int_attribute("step");
  bundle.train_state.learning_rate = static_cast<float>(ts.double_attribute("learning_rate"));
  if (ts.has_attribute("rate_scale")) {
    bundle.train_state.rate_scale = ts.double_attribute("rate_scale");
  }
  if (ts.has_attribute("callbacks")) {
    bundle.train_state.callbacks = parse_json_attribute(ts, "callbacks");
  }
  if (ts.exists("epoch_progress")) bundle.train_state.progress = load_progress(ts);
  if (ts.exists("callback_arrays")) {
    h5::Group g = ts.open_group("callback_arrays");
    for (const std::string& name : g.child_names()) {
      bundle.train_state.callback_arrays.emplace(name, read_floats(g.open_dataset(name)));
    }
  }
  return bundle;
}

std::string describe_model(const std::string& path) {
  ModelBundle b = load_model(path);
  std::ostringstream out;
  out << path << ": kiln model, format version " << b.format_version << "\n";
  // What the outputs are (nn/task.hpp): classes, or for regression the values' names.
  const std::string task = b.preprocessing.value("task", "classification");
  if (task != "classification") out << "  task      " << task << "\n";
  out << (task == "regression" ? "  values    " : "  classes   ") << b.class_names.size();
  // An ImageNet network's 1000 names would bury the layers: the first ones and the last.
  constexpr std::size_t kShown = 20;
  const std::size_t count = b.class_names.size();
  for (std::size_t c = 0; c < count; ++c) {
    if (count > kShown + 1 && c == kShown - 1) {
      out << ", … (" << count - kShown << " more)";
      c = count - 2;
      continue;
    }
    out << (c ? ", " : ": ") << b.class_names[c];
  }
  out << "\n" << b.model.summary();
  out << "  optimizer " << b.optimizer_config.dump() << "\n";
  const nn::TrainState& t = b.train_state;
  out << "  trained   " << t.epoch << " epochs, " << t.step << " steps, seed " << t.seed
      << ", learning rate " << t.learning_rate;
  if (t.rate_scale != 1.0) out << " (plateau scale " << t.rate_scale << ")";
  out << "\n";
  if (t.progress.batches > 0) {
    out << "  mid-epoch " << t.progress.batches << " batches (" << t.progress.samples
        << " samples) into epoch " << t.epoch + 1 << "\n";
  }
  if (!t.callbacks.empty()) out << "  callbacks " << t.callbacks.dump() << "\n";
  const Json& pre = b.preprocessing;
  for (const char* key : {"input", "storage", "normalization", "eval_stages", "train_stages"}) {
    if (pre.contains(key)) out << "  " << key << ": " << pre.at(key).dump() << "\n";
  }
  return out.str();
}

}  // namespace kiln::io
