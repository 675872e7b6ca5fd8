#include "pipeline/transforms/registry.hpp"

#include <algorithm>
#include <functional>
#include <optional>

#include "nn/error.hpp"
#include "pipeline/batch_mixing.hpp"
#include "pipeline/transforms/affine.hpp"
#include "pipeline/transforms/color_jitter.hpp"
#include "pipeline/transforms/flip.hpp"
#include "pipeline/transforms/lens.hpp"
#include "pipeline/transforms/pad_crop.hpp"
#include "pipeline/transforms/pca_lighting.hpp"
#include "pipeline/transforms/random_erasing.hpp"
#include "pipeline/transforms/resized_crop.hpp"
#include "pipeline/transforms/scale_crop.hpp"

namespace kiln::pipeline {
namespace {

struct Entry {
  StageInfo info;
  std::function<std::unique_ptr<Stage>(const Json&)> make;
};

template <Transform T>
Entry entry() {
  return {{T::kName, T::kSummary, T::kExample}, [](const Json& json) -> std::unique_ptr<Stage> {
            StageOptions options(T::kName, json);
            std::optional<T> transform;
            try {
              transform = T::from_json(options);
            } catch (const Error&) {
              options.reject_unknown();  // a misspelt key is the likelier cause: name it first
              throw;
            }
            options.reject_unknown();
            return std::make_unique<TransformStage<T>>(std::move(*transform));
          }};
}

// The one list of stages, sorted by name.
const std::vector<Entry>& entries() {
  static const std::vector<Entry> table = [] {
    std::vector<Entry> list = {
        entry<Affine>(),         entry<ColorJitter>(),       entry<HorizontalFlip>(),
        entry<LensDistortion>(), entry<PadCrop>(),           entry<PcaLighting>(),
        entry<RandomErasing>(),  entry<RandomResizedCrop>(), entry<ScaleCrop>(),
        entry<VerticalFlip>(),
    };
    std::sort(list.begin(), list.end(),
              [](const Entry& a, const Entry& b) { return a.info.name < b.info.name; });
    return list;
  }();
  return table;
}

}  // namespace

const std::vector<StageInfo>& stage_infos() {
  static const std::vector<StageInfo> infos = [] {
    std::vector<StageInfo> list;
    for (const Entry& e : entries()) list.push_back(e.info);
    return list;
  }();
  return infos;
}

std::vector<std::string> stage_names() {
  std::vector<std::string> names;
  for (const StageInfo& info : stage_infos()) names.emplace_back(info.name);
  return names;
}

std::string stages_help() {
  std::string text;
  for (const StageInfo& info : stage_infos()) {
    text += "  " + std::string(info.name) + " " + std::string(info.example) + "\n";
  }
  return text;
}

std::unique_ptr<Stage> make_stage(const std::string& name, const Json& options) {
  for (const Entry& e : entries()) {
    if (e.info.name == name) return e.make(options.is_null() ? Json::object() : options);
  }
  if (is_batch_stage(name)) {
    throw Error(name +
                " mixes whole training batches: it belongs last in kiln train's 'augment' list, "
                "and has no place here");
  }
  std::string names;
  for (const auto& n : stage_names()) names += (names.empty() ? "" : ", ") + n;
  throw Error("unknown stage '" + name + "'; known stages: " + names);
}

std::vector<std::unique_ptr<Stage>> make_stages(const Json& list) {
  std::vector<std::unique_ptr<Stage>> stages;
  if (list.is_null()) return stages;
  if (!list.is_array()) throw Error("stages must be a JSON list, got " + list.dump());
  for (const Json& entry : list) {
    if (!entry.is_object() || !entry.contains("type") || !entry.at("type").is_string()) {
      throw Error("every stage needs a \"type\", got " + entry.dump());
    }
    Json options = entry;
    options.erase("type");
    stages.push_back(make_stage(entry.at("type").get<std::string>(), options));
  }
  return stages;
}

Json stages_config(const std::vector<std::unique_ptr<Stage>>& stages) {
  Json list = Json::array();
  for (const auto& s : stages) {
    Json entry = {{"type", std::string(s->name())}};
    entry.update(s->config());
    list.push_back(entry);
  }
  return list;
}

}  // namespace kiln::pipeline
