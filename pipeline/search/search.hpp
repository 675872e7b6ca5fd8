// run_search: `kiln search` as a library call. Trials of a search space (search_space.hpp), each
// a run directory DIR/trial-NNN trained by a TrialRunner (`kiln train` in a process of its own),
// scored by a validation metric at the epoch asked, by one of three strategies:
//   grid     every combination, each trained for the config's epochs;
//   random   `trials` points drawn from the seed, each trained for the config's epochs;
//   halving  successive halving: `trials` random points train `min_epochs`; the best 1/eta
//            continue from their own checkpoints (exactly as one run would) to eta times as many
//            epochs, and so on up to the config's epochs.
// The state lives in DIR/search.json, rewritten atomically at every change, so a search killed at
// any moment continues when run again: finished trials are kept, a half-run one resumes from its
// checkpoint. Alongside: trials.csv, best.json (the best finished trial's config, ready for
// kiln train --config) and score_vs_<key>.png per numeric parameter.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "nn/json.hpp"
#include "pipeline/search/search_space.hpp"

namespace kiln::pipeline {

struct SearchOptions {
  std::string strategy = "random";      // grid, random, halving
  std::int64_t trials = 10;             // random and halving
  std::uint64_t seed = 1;               // draws the trials (the config's own seed trains them)
  std::string metric = "val_accuracy";  // val_accuracy, val_top5 (higher is better), val_loss
  std::int64_t eta = 3;                 // halving: the best 1/eta go on to eta times the epochs
  std::int64_t min_epochs = 1;          // halving: epochs of the first rung
  std::int64_t parallel = 1;            // trials at once
  std::int64_t threads = 0;             // threads of the machine to share (0: all cores)
};

// What the runner is asked: train the run directory `dir` (its config.json is written), from the
// start or from its checkpoint, pausing after `stop_after_epoch` when > 0.
struct TrialRun {
  std::string dir;
  bool resume = false;
  std::int64_t stop_after_epoch = 0;
  std::int64_t threads = 1;
};
struct TrialExit {
  bool ok = true;
  // Stopped from outside (SIGINT, SIGTERM, SIGHUP): not the trial's failure; the search stops
  // and leaves the trial to resume.
  bool interrupted = false;
  std::string reason;  // why it failed: kiln's error line, or the signal that ended it
};
using TrialRunner = std::function<TrialExit(const TrialRun&)>;

struct Trial {
  std::int64_t number = 0;  // 1-based; its folder is trial-NNN
  SearchPoint point;
  // pending, running (or interrupted), paused (scored at a rung, waiting for the next),
  // finished, stopped (not promoted by halving), failed
  std::string status = "pending";
  std::string reason;                     // failed or stopped: why
  std::map<std::int64_t, double> scores;  // epochs → the metric at that rung
  double seconds = 0.0;                   // wall time of its runs
  std::int64_t epochs() const { return scores.empty() ? 0 : scores.rbegin()->first; }
  double score() const;  // at its last rung; NaN before any
};

struct SearchObserver {
  std::function<void(const Trial&, std::int64_t epochs)> on_trial_start;
  std::function<void(const Trial&)> on_trial_end;
};

struct SearchResult {
  std::vector<Trial> trials;
  const Trial* best = nullptr;  // the best finished trial; none when every trial failed
  std::string best_config;      // the path of best.json
};

// Successive halving's rungs: min_epochs, min_epochs·eta, ... and finally `epochs`.
std::vector<std::int64_t> halving_rungs(std::int64_t min_epochs, std::int64_t eta,
                                        std::int64_t epochs);

// Whether a higher value of `metric` is better.
bool higher_is_better(const std::string& metric);

// `base` is the effective training config (its run_dir is set per trial). Throws
// kiln::ConfigError for a space or options that cannot run (an unknown key, grid over a
// distribution, no validation data) before any trial runs, or when DIR holds another search.
SearchResult run_search(const Json& base, const std::vector<SearchParam>& space,
                        const SearchOptions& options, const std::string& dir,
                        const TrialRunner& runner, const SearchObserver& observer = {});

}  // namespace kiln::pipeline
