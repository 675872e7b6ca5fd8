// Learning-rate schedules: pure functions of where training is (SchedulePoint), evaluated before
// every optimizer step at the fractional epoch e = epoch + step / steps_per_epoch, as PyTorch's
// and Keras' per-step schedules are. A resumed run, mid-epoch too, gets the same rates without
// saving anything. Text form (kiln train --lr-schedule, the config's `schedule`):
// clang-format off
//   constant                     lr
//   step:K:F                     lr · F^floor(e / K)           (drop by F every K epochs)
//   exponential:D                lr · D^e
//   cosine[:MIN]                 MIN + (lr − MIN) · (1 + cos(π e / E)) / 2
//                                                              (Loshchilov & Hutter 2017)
//   piecewise:0=R0,E1=R1,...     R_i from epoch E_i on (E0 must be 0)
//   one_cycle[:P[:D[:F]]]        Smith & Topin 2018, as PyTorch's OneCycleLR: from lr / D up to
//                                lr over the first fraction P of training, then down to
//                                lr / (D · F), both along half cosines (P 0.3, D 25, F 1e4)
// clang-format on
// Any of them may end with +warmup:W (W epochs, fractions allowed: 0.5) or +warmup:Nsteps: a
// linear ramp over the first steps, the rate of global step s multiplied by (s + 1) / (warm-up
// steps) (Goyal et al. 2017), so the first step takes a small rate and the last the full one.
// E is the planned number of epochs; e and s are 0-based.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kiln::nn {

// Where training is when a step is about to be taken.
struct SchedulePoint {
  std::int64_t epoch = 0;            // 0-based epoch under way
  std::int64_t step = 0;             // 0-based step within it
  std::int64_t steps_per_epoch = 1;  // of that epoch
  std::int64_t epochs = 1;           // planned

  double fractional_epoch() const {
    return static_cast<double>(epoch) +
           static_cast<double>(step) / static_cast<double>(steps_per_epoch);
  }
  std::int64_t global_step() const { return epoch * steps_per_epoch + step; }
};

struct Schedule {
  enum class Kind { kConstant, kStep, kExponential, kCosine, kPiecewise, kOneCycle };
  Kind kind = Kind::kConstant;
  std::int64_t step_epochs = 10;
  double factor = 0.1;                                  // step
  double decay = 0.95;                                  // exponential
  double min_rate = 0.0;                                // cosine
  std::vector<std::pair<std::int64_t, double>> pieces;  // piecewise: (first epoch, rate)
  double rise_fraction = 0.3;                           // one_cycle: P
  double initial_division = 25.0;                       // one_cycle: D
  double final_division = 1e4;                          // one_cycle: F
  double warmup_epochs = 0;                             // +warmup:W
  std::int64_t warmup_steps = 0;                        // +warmup:Nsteps
  std::string text = "constant";

  // Throws kiln::Error naming the malformed part and the accepted forms.
  static Schedule parse(const std::string& text);
  double rate(double base, const SchedulePoint& at) const;
  // The rate of an epoch's first step, for a schedule read one epoch at a time.
  double rate(double base, std::int64_t epoch, std::int64_t epochs) const {
    return rate(base, SchedulePoint{epoch, 0, 1, epochs});
  }
};

}  // namespace kiln::nn
