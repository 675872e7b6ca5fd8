#include "nn/parallel.hpp"

#include <tbb/parallel_for.h>

#include <algorithm>

#include "nn/tsan.hpp"

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
  // For ThreadSanitizer (nn/tsan.hpp): the caller's writes happen before every chunk, every chunk
  // before the return. Static, so that a chunk acquires before it reads anything of the caller's,
  // its own captures included; loops sharing the addresses only add edges.
  static char fork, join;
  tsan::release(&fork);
  tbb::parallel_for(std::int64_t{0}, chunks, [&](std::int64_t i) {
    tsan::acquire(&fork);
    body(i * chunk, std::min(n, (i + 1) * chunk));
    tsan::release(&join);
  });
  tsan::acquire(&join);
}

}  // namespace kiln::nn
