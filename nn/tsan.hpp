// Happens-before edges that oneTBB makes but ThreadSanitizer cannot see: Debian's libtbb is not
// built with TSan, so a task spawn, a message passed between flow-graph nodes or the order of a
// serial node's invocations orders nothing as far as TSan knows. The thread that hands data over
// calls tsan::release(&x) once it is done with it; the thread that takes it calls
// tsan::acquire(&x) before touching it. Without TSan both compile to nothing.
#pragma once

#if defined(__SANITIZE_THREAD__)
#define KILN_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define KILN_TSAN 1
#endif
#endif

#ifdef KILN_TSAN
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

namespace kiln::tsan {

inline void release([[maybe_unused]] const void* sync) {
#ifdef KILN_TSAN
  __tsan_release(const_cast<void*>(sync));
#endif
}

inline void acquire([[maybe_unused]] const void* sync) {
#ifdef KILN_TSAN
  __tsan_acquire(const_cast<void*>(sync));
#endif
}

}  // namespace kiln::tsan
