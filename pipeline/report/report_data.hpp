// The data of `kiln report`: every run and search under the folders given, read from the files
// kiln writes (a run directory's config.json, log.csv, diagnostics.csv, model.h5, an evaluate
// report folder and augment-preview PNGs; a search's search.json and its trials' run directories).
// One JSON object the page's script draws from:
//   runs:     [{name, dir, status, live, config: {dotted key: value}, log: {column: [values]},
//               summary: {...}, diagnostics?, evaluation?, previews?}]
//   searches: [{name, dir, strategy, metric, params: [{key, log}], trials: [...]}]
//   live:     whether a run may still change (the page then refreshes itself)
#pragma once

#include <string>
#include <vector>

#include "nn/json.hpp"

namespace kiln::pipeline {

// A folder may be a run directory, a search directory (its trials are runs too) or a folder of
// either. Throws kiln::Error naming a folder that holds neither.
Json collect_report(const std::vector<std::string>& folders);

}  // namespace kiln::pipeline
