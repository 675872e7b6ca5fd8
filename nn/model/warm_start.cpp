#include "nn/model/warm_start.hpp"

#include <map>

namespace kiln::nn {
namespace {

// A layer's parameters, then its buffers: everything a model file stores for it.
std::vector<Tensor*> state_of(Layer& layer) {
  std::vector<Tensor*> tensors;
  for (Parameter* p : layer.parameters()) tensors.push_back(&p->value);
  for (Buffer* b : layer.buffers()) tensors.push_back(&b->value);
  return tensors;
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

WarmStartReport copy_matching_layers(Model& from, Model& to) {
  std::map<std::string, std::size_t> source;
  for (std::size_t i = 0; i < from.size(); ++i) source.emplace(from.layer_name(i), i);
  WarmStartReport report;
  for (std::size_t i = 0; i < to.size(); ++i) {
    const std::vector<Tensor*> mine = state_of(to.layer(i));
    if (mine.empty()) continue;
    const std::string& name = to.layer_name(i);
    const auto it = source.find(name);
    if (it == source.end() || from.layer(it->second).type() != to.layer(i).type()) {
      report.fresh.push_back(name);
      continue;
    }
    const std::vector<Tensor*> theirs = state_of(from.layer(it->second));
    std::string differs;
    for (std::size_t t = 0; t < mine.size() && t < theirs.size(); ++t) {
      if (mine[t]->shape() != theirs[t]->shape()) {
        differs =
            name + ": " + theirs[t]->shape().str() + " there, " + mine[t]->shape().str() + " here";
        break;
      }
    }
    if (differs.empty() && mine.size() != theirs.size()) differs = name + ": other options";
    if (!differs.empty()) {
      report.skipped.push_back(differs);
      continue;
    }
    for (std::size_t t = 0; t < mine.size(); ++t) *mine[t] = *theirs[t];
    report.copied.push_back(name);
  }
  return report;
}

std::string WarmStartReport::str() const {
  std::string out = "copied " + std::to_string(copied.size()) + " layers";
  if (!copied.empty()) out += " (" + joined(copied) + ")";
  if (!fresh.empty()) out += "; new: " + joined(fresh);
  if (!skipped.empty()) out += "; skipped, shape differs: " + joined(skipped);
  return out;
}

}  // namespace kiln::nn
