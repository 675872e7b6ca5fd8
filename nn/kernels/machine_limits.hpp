// The two limits of this machine a layer's speed is judged against (the roofline model: Williams,
// Waterman & Patterson, "Roofline", CACM 2009): how many float operations per second its FMA units
// can retire, and how many bytes per second its memory can deliver. Both are measured here, on
// the threads the caller names, not read from a data sheet: a shared or throttled machine is what
// kiln actually runs on. Internal to kiln::nn (`kiln bench train --profile` prints them).
#pragma once

namespace kiln::nn {

struct MachineLimits {
  double fma_gflops = 0;     // float32 operations per second, in 1e9 (an FMA counts as two)
  double memory_gbytes = 0;  // bytes read per second from a buffer far larger than the caches
  double balance() const { return fma_gflops / memory_gbytes; }  // FLOP per byte at the ridge
};

// Runs `threads` threads at once, each for about `seconds`: first independent FMA chains held in
// registers, then a streaming read of 64 MB per thread. The best of three rounds of each counts.
MachineLimits measure_machine_limits(int threads, double seconds = 0.2);

}  // namespace kiln::nn
