// The JSON type kiln uses for layer, model and stage configs (nlohmann::json from Debian).
#pragma once

#include <nlohmann/json.hpp>

namespace kiln {
using Json = nlohmann::json;
}  // namespace kiln
