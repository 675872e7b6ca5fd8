// A search trial as a process of its own: `kiln train` on the trial's run directory, this very
// executable, its output appended to the trial's train.log. A process per trial keeps trials'
// threads, memory and failures apart, and a trial that dies takes nothing else with it.
#pragma once

#include "pipeline/search/search.hpp"

namespace kiln::apps {

// Runs `kiln train --config DIR/config.json` (or `--resume DIR`) with --threads and --stop-after
// and waits for it. A failure's reason is kiln's error line from train.log, or the signal that
// ended the process. The child dies with the search (PR_SET_PDEATHSIG), so killing the search
// leaves no trial running behind it.
pipeline::TrialExit run_trial_process(const pipeline::TrialRun& run);

}  // namespace kiln::apps
