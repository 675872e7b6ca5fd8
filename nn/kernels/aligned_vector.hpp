// AlignedVector: std::vector with 64-byte-aligned storage (one cache line, one AVX-512 register).
// Why: vectorized kernels (Eigen's among them) peel scalar iterations up to the first aligned
// address, so the rounding of a reduction can depend on where malloc happened to put a buffer.
// Aligned storage makes every run take the same path: part of "same seed, same bits".
#pragma once

#include <cstddef>
#include <new>
#include <utility>
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

// The same storage, but `resize` and the size constructor leave new elements uninitialized: for
// scratch buffers that are written in full before they are read, where zero-filling megabytes
// per call shows in profiles.
template <class T>
struct UninitializedAllocator : AlignedAllocator<T> {
  using value_type = T;
  template <class U>
  struct rebind {
    using other = UninitializedAllocator<U>;
  };
  UninitializedAllocator() = default;
  template <class U>
  UninitializedAllocator(const UninitializedAllocator<U>&) noexcept {
  }  // NOLINT: implicit by the allocator rules

  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;  // default-initialization: no value written
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

template <class T>
using ScratchVector = std::vector<T, UninitializedAllocator<T>>;

}  // namespace kiln::nn
