// Small kiln HDF5 datasets written by tests: pixel values encode (image index, position), so a
// test can tell exactly which image landed where.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/dataset_writer.hpp"

namespace kiln::testing {

inline std::uint8_t pixel_value(std::int64_t image, std::int64_t offset) {
  return static_cast<std::uint8_t>((image * 13 + offset * 7) % 251);
}

inline void write_indexed_dataset(const std::string& path, std::int64_t n, std::int64_t h,
                                  std::int64_t w, std::int64_t channels, std::int32_t classes) {
  io::DatasetSpec spec;
  spec.height = h;
  spec.width = w;
  spec.channels = channels;
  for (std::int32_t c = 0; c < classes; ++c)
    spec.class_names.push_back("class" + std::to_string(c));
  io::DatasetWriter writer(path, spec);
  const std::int64_t bytes = h * w * channels;
  std::vector<std::uint8_t> images(static_cast<std::size_t>(n * bytes));
  std::vector<std::int32_t> labels(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    labels[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(i % classes);
    for (std::int64_t k = 0; k < bytes; ++k)
      images[static_cast<std::size_t>(i * bytes + k)] = pixel_value(i, k);
  }
  writer.append(images, labels);
  writer.commit();
}

}  // namespace kiln::testing
