#include "nn/training/weight_decay.hpp"

#include <algorithm>

#include "nn/error.hpp"

namespace kiln::nn {

const std::vector<std::string>& no_decay_kinds() {
  static const std::vector<std::string> kinds = {"bias", "batch_norm", "layer_norm"};
  return kinds;
}

int exempt_from_weight_decay(Model& model, const std::vector<std::string>& kinds) {
  const auto& known = no_decay_kinds();
  for (const std::string& kind : kinds) {
    if (std::find(known.begin(), known.end(), kind) == known.end()) {
      std::string names;
      for (const auto& k : known) names += (names.empty() ? "" : ", ") + k;
      throw Error("no_decay: unknown parameter kind '" + kind + "'; known kinds: " + names);
    }
  }
  auto named = [&](const char* kind) {
    return std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
  };
  int exempt = 0;
  for (std::size_t i = 0; i < model.size(); ++i) {
    const std::string type(model.layer(i).type());
    // A normalization's scale and shift, when its kind is named (timm and Goyal et al. exempt both).
    const bool norm = (type == "batch_norm" || type == "layer_norm") && named(type.c_str());
    for (Parameter* p : model.layer(i).parameters()) {
      p->decays = !((named("bias") && p->name == "bias") || norm);
      exempt += p->decays ? 0 : 1;
    }
  }
  return exempt;
}

}  // namespace kiln::nn
