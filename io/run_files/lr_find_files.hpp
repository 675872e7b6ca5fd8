// The files of `kiln lr-find`: lr_find.csv (step, rate, loss, smoothed) and lr_find.png (both
// losses against log10 of the rate, the two suggestions marked).
#pragma once

#include <string>

#include "nn/training/lr_finder.hpp"

namespace kiln::io {

// Writes `folder`/lr_find.csv and `folder`/lr_find.png atomically; throws kiln::Error naming the
// file when it cannot.
void write_lr_find_files(const std::string& folder, const nn::LrFindResult& result);

}  // namespace kiln::io
