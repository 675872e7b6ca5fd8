// Deterministic parallel loops for kiln::nn.
// Work is split into chunks whose boundaries depend only on the problem size and the chunk size,
// never on the number of threads or the schedule. Each chunk is computed by exactly one task, so
// results are bit-identical with 1 or N threads (docs/design.md contract 1). TBB stays private to the .cpp.
#pragma once

#include <cstdint>
#include <functional>

namespace kiln::nn {

// The most worker threads any kiln command or config accepts (0 means all cores).
inline constexpr int kMaxThreads = 1024;

// Calls body(begin, end) for [0, n) cut into chunks of `chunk` items (the last may be shorter),
// concurrently. body must only write to outputs owned by its range.
void parallel_chunks(std::int64_t n, std::int64_t chunk,
                     const std::function<void(std::int64_t begin, std::int64_t end)>& body);

}  // namespace kiln::nn
