// Deterministic parallel loops for kiln::nn.
// Work is split into chunks whose boundaries depend only on the problem size and the chunk size,
// never on the number of threads or the schedule. Each chunk is computed by exactly one task, so
// results are bit-identical with 1 or N threads (DESIGN contract 1). TBB stays private to the .cpp.
#pragma once

#include <cstdint>
#include <functional>

namespace kiln::nn {

// Calls body(begin, end) for [0, n) cut into chunks of `chunk` items (the last may be shorter),
// concurrently. body must only write to outputs owned by its range.
void parallel_chunks(std::int64_t n, std::int64_t chunk,
                     const std::function<void(std::int64_t begin, std::int64_t end)>& body);

}  // namespace kiln::nn
