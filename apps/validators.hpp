// CLI11 validators whose messages read well ("--lr must be > 0, got -1").
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace kiln::apps {

inline CLI::Validator positive_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        try {
          std::size_t used = 0;
          const double value = std::stod(text, &used);
          if (used == text.size() && value > 0) return {};
        } catch (const std::exception&) {
        }
        return "must be a number > 0, got " + text;
      },
      "POSITIVE");
}

}  // namespace kiln::apps
