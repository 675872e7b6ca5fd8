// A torchvision network exported by PyTorch itself (tests/io/export_torchvision.py): the ONNX
// file, an input batch and PyTorch's logits on it, for kiln's importer to match.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "io/interop/onnx_import.hpp"
#include "nn/tensor.hpp"

namespace kiln::testing {

struct TorchReference {
  std::string onnx_path;
  std::vector<float> input;   // (batch, 3, size, size)
  std::vector<float> logits;  // (batch, classes)
};

inline std::vector<float> read_floats(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  std::vector<float> values(static_cast<std::size_t>(in.tellg()) / sizeof(float));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(values.data()),
          static_cast<std::streamsize>(values.size() * sizeof(float)));
  return values;
}

// Exports `model` into `dir`; nullopt when torch or torchvision is missing (the caller skips).
inline std::optional<TorchReference> export_torchvision(const std::string& model,
                                                        const std::string& dir,
                                                        const std::string& flags = "") {
  const std::string script = std::string(KILN_TEST_SOURCE_DIR) + "/io/export_torchvision.py";
  const std::string command =
      "/usr/bin/python3 " + script + " " + model + " " + dir + " " + flags + " 2>&1";
  const int status = std::system(command.c_str());
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3) return std::nullopt;
  EXPECT_EQ(status, 0) << command;
  const std::string base = dir + "/" + model;
  return TorchReference{base + ".onnx", read_floats(base + ".input.bin"),
                        read_floats(base + ".logits.bin")};
}

// kiln's logits of the imported `ref` on PyTorch's input, against PyTorch's: the largest difference
// relative to the largest logit must stay under `tolerance`. Returns that difference.
inline double expect_import_matches(const TorchReference& ref, double tolerance) {
  nn::Model model = io::import_onnx(ref.onnx_path);
  const nn::Shape in = model.input_shape();
  const auto batch = static_cast<std::int64_t>(ref.input.size()) / in.per_sample();
  nn::Tensor x(in.with_n(batch));
  std::copy(ref.input.begin(), ref.input.end(), x.data());
  const nn::Tensor& y = model.forward(x, {});
  EXPECT_EQ(static_cast<std::size_t>(y.size()), ref.logits.size());
  double scale = 0, worst = 0;
  for (const float v : ref.logits) scale = std::max(scale, static_cast<double>(std::abs(v)));
  for (std::size_t i = 0; i < ref.logits.size() && i < static_cast<std::size_t>(y.size()); ++i) {
    worst = std::max(
        worst, std::abs(static_cast<double>(y[static_cast<std::int64_t>(i)]) - ref.logits[i]));
  }
  EXPECT_LE(worst, tolerance * std::max(scale, 1.0)) << "largest logit " << scale;
  return worst / std::max(scale, 1.0);
}

}  // namespace kiln::testing
