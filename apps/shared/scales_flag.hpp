// --scales for evaluate and predict: short sides (--scales 224 256 384) or `auto`, the spread of
// the model's own training scales (pipeline::auto_scales).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "nn/error.hpp"

namespace kiln::apps {

class ScalesFlag {
 public:
  void add_to(CLI::App* cmd) {
    cmd->add_option("--scales", given_,
                    "Short sides to resize to before cropping, e.g. --scales 224 256 384, or "
                    "auto: three spread over the model's scale_crop training range (default: "
                    "the model's eval scale)");
  }

  // Throws kiln::ConfigError for anything but positive integers or a lone `auto`.
  void apply(std::vector<int>& scales, bool& auto_scales) const {
    if (given_.size() == 1 && given_[0] == "auto") {
      auto_scales = true;
      return;
    }
    for (const std::string& text : given_) {
      std::size_t used = 0;
      int value = 0;
      try {
        value = std::stoi(text, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != text.size() || value < 1 || value > (1 << 16)) {
        throw ConfigError("--scales: expected short sides in pixels (1 to 65536) or auto, got '" +
                          text + "'");
      }
      scales.push_back(value);
    }
  }

 private:
  std::vector<std::string> given_;
};

}  // namespace kiln::apps
