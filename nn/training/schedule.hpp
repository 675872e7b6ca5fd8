// Learning-rate schedules: pure functions of (base rate, epoch, epochs), so a resumed run gets
// the same rates without saving anything. Text form (kiln train --lr-schedule):
// clang-format off
//   constant                     lr
//   step:K:F                     lr · F^floor(e / K)           (drop by F every K epochs)
//   exponential:D                lr · D^e
//   cosine[:MIN]                 MIN + (lr − MIN) · (1 + cos(π e / E)) / 2
//                                                              (Loshchilov & Hutter 2017)
//   piecewise:E0=R0,E1=R1,...    R_i from epoch E_i on (E0 must be 0)
// clang-format on
// Any of them may end with +warmup:W: a linear ramp lr · (e + 1) / W over the first W epochs
// (Goyal et al. 2017). e is the 0-based epoch, E the planned number of epochs.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kiln::nn {

struct Schedule {
  enum class Kind { kConstant, kStep, kExponential, kCosine, kPiecewise };
  Kind kind = Kind::kConstant;
  std::int64_t step_epochs = 10;
  double factor = 0.1;                                  // step
  double decay = 0.95;                                  // exponential
  double min_rate = 0.0;                                // cosine
  std::vector<std::pair<std::int64_t, double>> pieces;  // piecewise: (first epoch, rate)
  std::int64_t warmup_epochs = 0;
  std::string text = "constant";

  // Throws kiln::Error naming the malformed part and the accepted forms.
  static Schedule parse(const std::string& text);
  double rate(double base, std::int64_t epoch, std::int64_t epochs) const;
};

}  // namespace kiln::nn
