#include "nn/model/graph.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "nn/error.hpp"

namespace kiln::nn {
namespace {

constexpr const char* kInputName = "input";

std::string quoted(const std::string& s) { return "'" + s + "'"; }

// The entry's "inputs" as a list of names; absent gives an empty list.
std::vector<std::string> input_names(const Json& given, const std::string& where) {
  std::vector<std::string> names;
  if (given.is_string()) return {given.get<std::string>()};
  if (!given.is_array() || given.empty()) {
    throw Error(where + ": \"inputs\" must be a layer name or a list of names, got " +
                given.dump());
  }
  for (const Json& name : given) {
    if (!name.is_string()) {
      throw Error(where + ": \"inputs\" must list layer names (strings), got " + given.dump());
    }
    names.push_back(name.get<std::string>());
  }
  return names;
}

}  // namespace

std::string LayerGraph::describe(std::size_t i) const {
  return quoted(nodes_[i].name) + " (layer " + std::to_string(i) + ")";
}

LayerGraph LayerGraph::parse(const Json& layers) {
  if (!layers.is_array() || layers.empty()) {
    throw Error("model config: \"layers\" must be a non-empty list, got " + layers.dump());
  }
  LayerGraph graph;
  std::vector<Json> given_inputs;
  std::map<std::string, int> per_type;
  for (const Json& entry : layers) {
    const std::string where = "model config: layer " + std::to_string(graph.nodes_.size());
    if (!entry.is_object() || !entry.contains("type") || !entry.at("type").is_string()) {
      throw Error(where + " needs a \"type\", got " + entry.dump());
    }
    GraphNode node;
    node.type = entry.at("type").get<std::string>();
    node.name = node.type + "_" + std::to_string(++per_type[node.type]);
    node.options = entry;
    node.options.erase("type");
    if (entry.contains("name")) {
      if (!entry.at("name").is_string() || entry.at("name").get<std::string>().empty()) {
        throw Error(where + ": \"name\" must be a non-empty string, got " +
                    entry.at("name").dump());
      }
      node.name = entry.at("name").get<std::string>();
      node.default_name = false;
      node.options.erase("name");
    }
    if (entry.contains("trainable")) {
      if (!entry.at("trainable").is_boolean()) {
        throw Error(where + ": \"trainable\" must be true or false, got " +
                    entry.at("trainable").dump());
      }
      node.trainable = entry.at("trainable").get<bool>();
      node.options.erase("trainable");
    }
    node.default_inputs = !entry.contains("inputs");
    given_inputs.push_back(node.default_inputs ? Json() : entry.at("inputs"));
    node.options.erase("inputs");
    graph.nodes_.push_back(std::move(node));
  }
  graph.resolve_inputs(given_inputs);
  graph.sort_topologically();
  graph.check_every_layer_is_used();
  return graph;
}

void LayerGraph::resolve_inputs(const std::vector<Json>& given) {
  std::map<std::string, std::size_t> position;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const std::string& name = nodes_[i].name;
    if (name == kInputName) {
      throw Error("model config: layer " + std::to_string(i) +
                  " is named 'input', the name of the model's input; rename it");
    }
    const auto [it, inserted] = position.emplace(name, i);
    if (!inserted) {
      throw Error("model config: layers " + std::to_string(it->second) + " and " +
                  std::to_string(i) + " are both named " + quoted(name) +
                  "; names must be unique (unnamed layers are called <type>_<k>)");
    }
  }
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    GraphNode& node = nodes_[i];
    if (node.default_inputs) {
      node.inputs = {i == 0 ? kModelInput : static_cast<std::ptrdiff_t>(i - 1)};
      continue;
    }
    for (const std::string& name : input_names(given[i], "model config: " + describe(i))) {
      if (name == kInputName) {
        node.inputs.push_back(kModelInput);
        continue;
      }
      const auto it = position.find(name);
      if (it == position.end()) {
        throw Error("model config: " + describe(i) + " reads " + quoted(name) +
                    ", which no layer is named; inputs name layers or 'input'");
      }
      if (it->second == i) throw Error("model config: " + describe(i) + " reads itself");
      node.inputs.push_back(static_cast<std::ptrdiff_t>(it->second));
    }
  }
}

// Kahn's algorithm, always taking the earliest listed layer whose inputs are ready: a list that is
// already in order keeps it.
void LayerGraph::sort_topologically() {
  const std::size_t n = nodes_.size();
  std::vector<std::size_t> waiting(n, 0);
  std::vector<std::vector<std::size_t>> readers(n);
  for (std::size_t i = 0; i < n; ++i) {
    for (const std::ptrdiff_t in : nodes_[i].inputs) {
      if (in == kModelInput) continue;
      ++waiting[i];
      readers[static_cast<std::size_t>(in)].push_back(i);
    }
  }
  std::set<std::size_t> ready;
  for (std::size_t i = 0; i < n; ++i) {
    if (waiting[i] == 0) ready.insert(i);
  }
  while (!ready.empty()) {
    const std::size_t i = *ready.begin();
    ready.erase(ready.begin());
    order_.push_back(i);
    for (const std::size_t r : readers[i]) {
      if (--waiting[r] == 0) ready.insert(r);
    }
  }
  if (order_.size() < n) {
    // Walk back along unfinished inputs from an unfinished layer until a layer repeats: a cycle.
    std::size_t at = 0;
    while (waiting[at] == 0) ++at;
    std::vector<std::size_t> path;
    while (std::find(path.begin(), path.end(), at) == path.end()) {
      path.push_back(at);
      for (const std::ptrdiff_t in : nodes_[at].inputs) {
        if (in != kModelInput && waiting[static_cast<std::size_t>(in)] > 0) {
          at = static_cast<std::size_t>(in);
          break;
        }
      }
    }
    std::string cycle = describe(at);
    for (auto it = std::find(path.begin(), path.end(), at) + 1; it != path.end(); ++it) {
      cycle += " reads " + describe(*it) + ", which";
    }
    throw Error("model config: the layers form a cycle: " + cycle + " reads " + describe(at) +
                "; a model must be acyclic");
  }
  consumers_.assign(n, {});
  for (const std::size_t i : order_) {
    for (const std::ptrdiff_t in : nodes_[i].inputs) {
      if (in == kModelInput) continue;
      auto& list = consumers_[static_cast<std::size_t>(in)];
      if (list.empty() || list.back() != i) list.push_back(i);
    }
  }
}

void LayerGraph::check_every_layer_is_used() const {
  const std::size_t output = nodes_.size() - 1;
  if (!consumers_[output].empty()) {
    throw Error("model config: the last layer, " + describe(output) +
                ", is the model's output, but " + describe(consumers_[output].front()) +
                " reads it; list the output layer last");
  }
  for (std::size_t i = 0; i < output; ++i) {
    if (consumers_[i].empty()) {
      throw Error("model config: " + describe(i) +
                  " feeds no layer; only the last layer listed is the output, " + describe(output) +
                  "; remove it or make a layer read it");
    }
  }
}

bool LayerGraph::is_chain() const {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const std::ptrdiff_t previous = i == 0 ? kModelInput : static_cast<std::ptrdiff_t>(i - 1);
    if (nodes_[i].inputs != std::vector<std::ptrdiff_t>{previous}) return false;
  }
  return true;
}

Json LayerGraph::entry(std::size_t i, const Json& options) const {
  const GraphNode& node = nodes_[i];
  Json out = {{"type", node.type}};
  if (!node.default_name) out["name"] = node.name;
  if (!node.default_inputs) {
    Json names = Json::array();
    for (const std::ptrdiff_t in : node.inputs) {
      names.push_back(in == kModelInput ? kInputName : nodes_[static_cast<std::size_t>(in)].name);
    }
    out["inputs"] = names.size() == 1 ? names[0] : names;
  }
  if (!node.trainable) out["trainable"] = false;
  out.update(options);
  return out;
}

}  // namespace kiln::nn
