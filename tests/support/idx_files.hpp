// Writers of IDX files for tests: well-formed (plain or gzipped) and deliberately broken ones,
// and a small synthetic image set whose class is visible in the pixels (so training can learn it).
#pragma once

#include <zlib.h>

#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/random.hpp"

namespace kiln::testing {

inline std::vector<std::uint8_t> idx_bytes(std::uint8_t type,
                                           const std::vector<std::uint32_t>& dims,
                                           const std::vector<std::uint8_t>& payload) {
  std::vector<std::uint8_t> out = {0, 0, type, static_cast<std::uint8_t>(dims.size())};
  for (std::uint32_t d : dims) {
    out.push_back(static_cast<std::uint8_t>(d >> 24));
    out.push_back(static_cast<std::uint8_t>(d >> 16));
    out.push_back(static_cast<std::uint8_t>(d >> 8));
    out.push_back(static_cast<std::uint8_t>(d));
  }
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

inline void write_file(const std::string& path, const std::vector<std::uint8_t>& bytes, bool gzip) {
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb");
    if (!f) throw std::runtime_error("cannot write " + path);
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
  } else {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  }
}

// n images of h×w: class c (0..classes-1) lights a horizontal band c of the image, plus noise.
// The bands are trivially separable, so the accuracy floors tests set on them (and on the dark
// and bright photos of the CLI tests) are smoke floors, marked so where they are set: a working
// run clears them easily, a broken one (labels shuffled, weights untrained, normalization lost)
// falls to chance. They do not measure how well kiln learns; the README's Fashion-MNIST figures,
// reproduced by scripts/fashion-mnist.sh, do.
struct SyntheticSet {
  std::vector<std::uint8_t> images;  // (n, h, w)
  std::vector<std::uint8_t> labels;  // (n)
};

inline SyntheticSet synthetic_set(std::uint32_t n, std::uint32_t h, std::uint32_t w,
                                  std::uint32_t classes, std::uint64_t seed) {
  SyntheticSet set;
  set.images.resize(static_cast<std::size_t>(n) * h * w);
  for (std::uint32_t i = 0; i < n; ++i) {
    nn::Rng rng({seed, 0, i, 7});
    const auto label = static_cast<std::uint32_t>(rng.randint(0, classes));
    set.labels.push_back(static_cast<std::uint8_t>(label));
    const std::uint32_t band = h / classes;
    for (std::uint32_t y = 0; y < h; ++y) {
      for (std::uint32_t x = 0; x < w; ++x) {
        const bool lit = y / band == label;
        const float value = (lit ? 170.f : 40.f) + rng.uniform(-40.f, 40.f);
        set.images[(static_cast<std::size_t>(i) * h + y) * w + x] =
            static_cast<std::uint8_t>(value);
      }
    }
  }
  return set;
}

// Writes images + labels as gzipped IDX files; returns {images path, labels path}.
inline std::pair<std::string, std::string> write_synthetic_idx(
    const std::string& dir, const std::string& name, std::uint32_t n, std::uint32_t h,
    std::uint32_t w, std::uint32_t classes, std::uint64_t seed) {
  const SyntheticSet set = synthetic_set(n, h, w, classes, seed);
  const std::string images = dir + "/" + name + "-images-idx3-ubyte.gz";
  const std::string labels = dir + "/" + name + "-labels-idx1-ubyte.gz";
  write_file(images, idx_bytes(0x08, {n, h, w}, set.images), true);
  write_file(labels, idx_bytes(0x08, {n}, set.labels), true);
  return {images, labels};
}

}  // namespace kiln::testing
