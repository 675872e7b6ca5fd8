// The JSON type kiln uses for layer, model and stage configs (nlohmann::json from Debian), and the
// one walker of the dotted keys the training config and its flags name ("optimizer.lr").
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace kiln {
using Json = nlohmann::json;

// The value at `dotted` ("a.b.c": objects only), or nullptr when a part is missing.
inline const Json* find_dotted(const Json& config, std::string_view dotted) {
  const Json* node = &config;
  while (true) {
    const std::size_t dot = dotted.find('.');
    const std::string part(dotted.substr(0, dot));
    if (!node->is_object() || !node->contains(part)) return nullptr;
    node = &node->at(part);
    if (dot == std::string_view::npos) return node;
    dotted.remove_prefix(dot + 1);
  }
}

// The value at `dotted`, made (as null, inside new objects) when missing.
inline Json& at_dotted(Json& config, std::string_view dotted) {
  Json* node = &config;
  while (true) {
    const std::size_t dot = dotted.find('.');
    node = &(*node)[std::string(dotted.substr(0, dot))];
    if (dot == std::string_view::npos) return *node;
    dotted.remove_prefix(dot + 1);
  }
}

}  // namespace kiln
