#include "nn/parallel.hpp"

#include <tbb/parallel_for.h>

#include <algorithm>

namespace kiln::nn {

void parallel_chunks(std::int64_t n, std::int64_t chunk,
                     const std::function<void(std::int64_t, std::int64_t)>& body) {
  if (n <= 0) return;
  chunk = std::max<std::int64_t>(chunk, 1);
  const std::int64_t chunks = (n + chunk - 1) / chunk;
  if (chunks == 1) {
    body(0, n);
    return;
  }
  tbb::parallel_for(std::int64_t{0}, chunks,
                    [&](std::int64_t i) { body(i * chunk, std::min(n, (i + 1) * chunk)); });
}

}  // namespace kiln::nn
