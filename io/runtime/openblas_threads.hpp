// stop_openblas_threads: Debian's OpenCV core links LAPACK, and with it OpenBLAS (pthreads
// build), whose library constructor starts a server thread per extra core before main() runs.
// Until work comes, those threads spin in sched_yield(2); on a 2-core machine that takes a share
// of a core from the threads decoding images. Measured, `kiln preprocess --size 224x224` of 1000
// photos: 405 ms with OPENBLAS_NUM_THREADS=1 set, 402–467 ms without (as the spinning thread
// won or lost the core). kiln does no BLAS work through OpenCV (its GEMMs are Eigen's).
#pragma once

namespace kiln::io {

// Joins OpenBLAS's server threads and keeps later BLAS calls on the calling thread. Returns how
// many threads it stopped: 0 when the process has no OpenBLAS or it started none.
int stop_openblas_threads();

}  // namespace kiln::io
