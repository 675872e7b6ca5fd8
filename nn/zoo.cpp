#include "nn/zoo.hpp"

#include "nn/error.hpp"

namespace kiln::nn {

std::vector<std::string> builtin_model_names() { return {"mlp"}; }

Json builtin_model(const std::string& name, const Shape& input, std::int64_t num_classes) {
  const Json shape = {input.c, input.h, input.w};
  if (name == "mlp") {
    return {{"input", shape},
            {"layers",
             {{{"type", "dense"}, {"units", 512}},
              {{"type", "relu"}},
              {{"type", "dense"}, {"units", 512}},
              {{"type", "relu"}},
              {{"type", "dense"}, {"units", num_classes}, {"init", "glorot_uniform"}}}}};
  }
  std::string names;
  for (const auto& n : builtin_model_names()) names += (names.empty() ? "" : ", ") + n;
  throw Error("unknown model '" + name + "'; built-in models: " + names);
}

}  // namespace kiln::nn
