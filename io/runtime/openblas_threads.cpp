#include "io/runtime/openblas_threads.hpp"

#include <dlfcn.h>

namespace kiln::io {

int stop_openblas_threads() {
  // Looked up, not linked: the BLAS behind Debian's libblas.so.3 alternative may not be OpenBLAS.
  // openblas_set_num_threads is OpenBLAS's public API; blas_thread_shutdown_ is the function
  // OpenBLAS itself calls before fork() and at exit to join its threads — a later multi-threaded
  // call would start them again, which the thread count of 1 prevents.
  using GetThreads = int (*)();
  using SetThreads = void (*)(int);
  using Shutdown = int (*)();
  auto get = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  auto shutdown = reinterpret_cast<Shutdown>(dlsym(RTLD_DEFAULT, "blas_thread_shutdown_"));
  if (!get || !set || !shutdown) return 0;
  const int threads = get();
  set(1);
  shutdown();
  return threads > 1 ? threads - 1 : 0;
}

}  // namespace kiln::io
