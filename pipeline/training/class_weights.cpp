#include "pipeline/training/class_weights.hpp"

#include "nn/error.hpp"

namespace kiln::pipeline {

std::vector<std::int64_t> class_counts(std::span<const std::int32_t> labels, std::int64_t classes) {
  std::vector<std::int64_t> counts(static_cast<std::size_t>(classes), 0);
  for (const std::int32_t label : labels) {
    if (label < 0 || label >= classes)
      throw Error("label " + std::to_string(label) + " is outside [0, " + std::to_string(classes) +
                  ")");
    ++counts[static_cast<std::size_t>(label)];
  }
  return counts;
}

std::vector<double> resolve_class_weights(const Json& spec, std::span<const std::int64_t> counts,
                                          const std::vector<std::string>& class_names) {
  const auto classes = static_cast<std::int64_t>(counts.size());
  if (spec.is_null()) return {};
  if (spec.is_array()) {
    if (static_cast<std::int64_t>(spec.size()) != classes) {
      throw ConfigError("'loss.class_weights' lists " + std::to_string(spec.size()) +
                        " weights but the data has " + std::to_string(classes) +
                        " classes; give one weight per class, in class order");
    }
    return spec.get<std::vector<double>>();
  }
  std::int64_t total = 0;
  for (const std::int64_t c : counts) total += c;
  std::vector<double> weights;
  for (std::int64_t c = 0; c < classes; ++c) {
    const std::int64_t count = counts[static_cast<std::size_t>(c)];
    if (count == 0) {
      const std::string name = static_cast<std::size_t>(c) < class_names.size()
                                   ? class_names[static_cast<std::size_t>(c)]
                                   : std::to_string(c);
      throw ConfigError("'loss.class_weights' \"auto\": class '" + name +
                        "' has no training samples, so it has no inverse frequency; give the "
                        "weights as a list");
    }
    weights.push_back(static_cast<double>(total) /
                      (static_cast<double>(classes) * static_cast<double>(count)));
  }
  return weights;
}

}  // namespace kiln::pipeline
