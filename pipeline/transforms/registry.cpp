#include "pipeline/transforms/registry.hpp"

#include "nn/error.hpp"
#include "pipeline/transforms/flip.hpp"

namespace kiln::pipeline {
namespace {

void check_keys(const std::string& name, const Json& options,
                std::initializer_list<const char*> allowed) {
  for (const auto& [key, value] : options.items()) {
    bool known = false;
    std::string names;
    for (const char* a : allowed) {
      known |= key == a;
      names += (names.empty() ? "" : ", ") + std::string(a);
    }
    if (!known)
      throw Error("stage '" + name + "': unknown option '" + key + "'; allowed: " + names);
  }
}

}  // namespace

std::unique_ptr<Stage> make_stage(const std::string& name, const Json& options) {
  try {
    if (name == HorizontalFlip::kName) {
      check_keys(name, options, {"p"});
      return std::make_unique<TransformStage<HorizontalFlip>>(
          HorizontalFlip(options.value("p", 0.5f)));
    }
  } catch (const Json::exception& e) {
    throw Error("stage '" + name + "': malformed option: " + e.what());
  }
  throw Error("unknown stage '" + name + "'; known stages: horizontal_flip");
}

std::vector<std::unique_ptr<Stage>> make_stages(const Json& list) {
  std::vector<std::unique_ptr<Stage>> stages;
  if (list.is_null()) return stages;
  if (!list.is_array()) throw Error("stages must be a JSON list, got " + list.dump());
  for (const Json& entry : list) {
    if (!entry.is_object() || !entry.contains("type")) {
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
