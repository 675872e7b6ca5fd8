// AlignedVector: std::vector with 64-byte-aligned storage (one cache line, one AVX-512 register).
// Why: vectorized kernels (Eigen's among them) peel scalar iterations up to the first aligned
// address, so the rounding of a reduction can depend on where malloc happened to put a buffer.
// Aligned storage makes every run take the same path: part of "same seed, same bits".
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace kiln::nn {

template <class T>
struct AlignedAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlignment{64};

  AlignedAllocator() = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U>&) noexcept {
  }  // NOLINT: implicit by the allocator rules

  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlignment)); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, kAlignment); }

  template <class U>
  bool operator==(const AlignedAllocator<U>&) const noexcept {
    return true;
  }
};

template <class T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

}  // namespace kiln::nn
