// The training config: a JSON file merged onto the defaults and checked, then the same bytes as
// a --set assignment.
#include <string>

#include "fuzz/fuzz_input.hpp"
#include "nn/error.hpp"
#include "pipeline/training/train_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  kiln::fuzz::InputFile file(kiln::fuzz::bytes_of(data, size), ".json");
  try {
    kiln::Json config = kiln::pipeline::default_train_config();
    kiln::pipeline::merge_config(config, kiln::pipeline::load_config_file(file.path()), "fuzz");
    kiln::pipeline::train_config_from_json(config, "fuzz");
  } catch (const kiln::Error&) {
  }
  try {
    kiln::Json config = kiln::pipeline::default_train_config();
    kiln::pipeline::apply_assignment(config, text);
    kiln::pipeline::train_config_from_json(config, "fuzz");
  } catch (const kiln::Error&) {
  }
  return 0;
}
