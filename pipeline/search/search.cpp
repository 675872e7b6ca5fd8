#include "pipeline/search/search.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <thread>

#include "io/atomic_file.hpp"
#include "io/model_file.hpp"
#include "io/run_files/csv_log.hpp"
#include "io/run_files/run_directory.hpp"
#include "nn/error.hpp"
#include "pipeline/search/search_files.hpp"
#include "pipeline/training/cross_validation.hpp"
#include "pipeline/training/train_config.hpp"

namespace kiln::pipeline {
namespace {

namespace fs = std::filesystem;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string trial_folder(const std::string& dir, std::int64_t number) {
  char name[32];
  std::snprintf(name, sizeof name, "trial-%03lld", static_cast<long long>(number));
  return (fs::path(dir) / name).string();
}

// What makes two searches the same one: a search run again continues only its own trials.
Json search_spec(const Json& base, const std::vector<SearchParam>& space, const SearchOptions& o) {
  Json params = Json::object();
  for (const SearchParam& p : space) params[p.key] = p.text;
  Json spec = {{"strategy", o.strategy},
               {"seed", o.seed},
               {"metric", o.metric},
               {"space", params},
               {"base_config", base}};
  if (o.strategy != "grid") spec["trials"] = o.trials;
  if (o.strategy == "halving") {
    spec["eta"] = o.eta;
    spec["min_epochs"] = o.min_epochs;
  }
  return spec;
}

Json trial_json(const Trial& t) {
  Json scores = Json::object();
  for (const auto& [epochs, score] : t.scores) scores[std::to_string(epochs)] = score;
  return {{"number", t.number}, {"point", t.point}, {"status", t.status},
          {"reason", t.reason}, {"scores", scores}, {"seconds", t.seconds}};
}

Trial trial_from_json(const Json& j) {
  Trial t;
  t.number = j.at("number").get<std::int64_t>();
  t.point = j.at("point");
  t.status = j.at("status").get<std::string>();
  t.reason = j.at("reason").get<std::string>();
  for (const auto& [epochs, score] : j.at("scores").items()) {
    t.scores[std::stoll(epochs)] = score.is_number() ? score.get<double>() : kNaN;
  }
  t.seconds = j.at("seconds").get<double>();
  return t;
}

// The first part of two specs that differs, to say why DIR is another search.
std::string first_difference(const Json& saved, const Json& now) {
  for (const auto& [key, value] : now.items()) {
    if (!saved.contains(key) || saved.at(key) != value) return key;
  }
  return "the search";
}

// The validation figure `metric` of a trial's run at `epochs` (a k-fold trial: the folds' mean).
// Early stopping may end a run sooner: then its last epoch counts.
double read_score(const TrainConfig& config, const std::string& metric, std::int64_t epochs) {
  if (config.data.folds > 0) {
    const CrossValidationResult cv = read_cross_validation(config, epochs);
    if (metric == "val_loss") return cv.mean.val_loss;
    return metric == "val_top5" ? cv.mean.val_top5 : cv.mean.val_accuracy;
  }
  const io::LogTable log = io::read_csv_log(config.csv_log_path());
  for (auto row = log.rows.rbegin(); row != log.rows.rend(); ++row) {
    if ((*row)[0] <= static_cast<double>(epochs)) {
      return log.at_epoch(static_cast<std::int64_t>((*row)[0]), metric);
    }
  }
  return kNaN;
}

struct TrialInterrupted : Error {
  using Error::Error;
};

class Search {
 public:
  Search(const Json& base, const std::vector<SearchParam>& space, const SearchOptions& options,
         std::string dir, const TrialRunner& runner, const SearchObserver& observer)
      : base_(base),
        space_(space),
        options_(options),
        dir_(std::move(dir)),
        runner_(runner),
        observer_(observer) {}

  SearchResult run() {
    check();
    load_or_plan();
    const std::int64_t epochs = base_.at("epochs").get<std::int64_t>();
    const std::vector<std::int64_t> rungs =
        options_.strategy == "halving" ? halving_rungs(options_.min_epochs, options_.eta, epochs)
                                       : std::vector<std::int64_t>{epochs};
    std::vector<Trial*> rung;
    for (Trial& t : trials_) rung.push_back(&t);
    for (std::size_t k = 0; k < rungs.size(); ++k) {
      if (k > 0) rung = promote(rung, rungs[k - 1], k);
      run_rung(rung, rungs[k], rungs[k] == epochs ? 0 : rungs[k]);
    }
    for (Trial* t : rung) {
      if (t->status != "failed") t->status = "finished";
    }
    save();
    SearchResult result;
    result.trials = trials_;
    const Trial* best = best_trial();
    if (best != nullptr) {
      result.best = &*std::find_if(result.trials.begin(), result.trials.end(),
                                   [&](const Trial& t) { return t.number == best->number; });
      result.best_config = (fs::path(dir_) / "best.json").string();
    }
    return result;
  }

 private:
  // Everything that would make every trial fail, found before the first one runs.
  void check() {
    const std::vector<std::string> strategies = {"grid", "random", "halving"};
    if (std::find(strategies.begin(), strategies.end(), options_.strategy) == strategies.end()) {
      throw ConfigError("--strategy " + options_.strategy + ": use grid, random or halving");
    }
    const std::vector<std::string> metrics = {"val_accuracy", "val_loss", "val_top5"};
    if (std::find(metrics.begin(), metrics.end(), options_.metric) == metrics.end()) {
      throw ConfigError("--metric " + options_.metric +
                        ": a search scores validation figures: val_accuracy, val_loss or "
                        "val_top5");
    }
    if (options_.strategy == "halving" && (options_.eta < 2 || options_.min_epochs < 1)) {
      throw ConfigError("halving needs --eta >= 2 and --min-epochs >= 1");
    }
    for (const char* key : {"output", "checkpoint", "log_csv"}) {
      if (!base_.at(key).get<std::string>().empty()) {
        throw ConfigError(std::string("'") + key +
                          "' is set, but each trial writes into its own run directory; leave "
                          "it out");
      }
    }
    // Every key must exist in the config (a typo is found now, not as N failed trials); the
    // values are checked per trial, where a bad one fails that trial only.
    Json probe = base_;
    for (const SearchParam& p : space_) set_config_path(probe, p.key, nullptr);
    Json with_dir = base_;
    with_dir["run_dir"] = trial_folder(dir_, 0);
    const TrainConfig config = train_config_from_json(with_dir, "the search's config");
    const bool searched_validation =
        std::any_of(space_.begin(), space_.end(), [](const SearchParam& p) {
          return p.key.rfind("data.validation", 0) == 0 || p.key == "data.folds";
        });
    if (config.data.validation.empty() && config.data.validation_split <= 0 &&
        config.data.folds == 0 && !searched_validation) {
      throw ConfigError("the search scores trials by " + options_.metric +
                        ", which needs validation data: --validation FILE, --validation-split "
                        "F, or --folds K");
    }
    if (options_.strategy == "halving" && config.epochs <= options_.min_epochs) {
      throw ConfigError("halving: --epochs " + std::to_string(config.epochs) +
                        " leaves no rung after --min-epochs " +
                        std::to_string(options_.min_epochs) + "; raise --epochs");
    }
  }

  void load_or_plan() {
    fs::create_directories(dir_);
    spec_ = search_spec(base_, space_, options_);
    const std::string state = (fs::path(dir_) / "search.json").string();
    if (fs::exists(state)) {
      const Json saved = load_config_file(state);
      if (saved.value("spec", Json()) != spec_) {
        throw ConfigError(dir_ + " holds another search (its " +
                          first_difference(saved.value("spec", Json::object()), spec_) +
                          " differs); run the same command to continue it, or give another "
                          "--run-dir");
      }
      for (const Json& t : saved.at("trials")) trials_.push_back(trial_from_json(t));
      return;
    }
    std::vector<SearchPoint> points;
    if (options_.strategy == "grid") {
      points = grid_points(space_);
    } else {
      for (std::int64_t i = 0; i < options_.trials; ++i)
        points.push_back(random_point(space_, options_.seed, i));
    }
    for (std::size_t i = 0; i < points.size(); ++i) {
      Trial t;
      t.number = static_cast<std::int64_t>(i) + 1;
      t.point = std::move(points[i]);
      trials_.push_back(std::move(t));
    }
    save();
  }

  // The trials of rung k: the best 1/eta^k of the first rung's, among those scored at `epochs`.
  std::vector<Trial*> promote(const std::vector<Trial*>& previous, std::int64_t epochs,
                              std::size_t k) {
    std::vector<Trial*> scored;
    for (Trial* t : previous) {
      if (t->status != "failed" && t->scores.count(epochs)) scored.push_back(t);
    }
    const bool higher = higher_is_better(options_.metric);
    std::stable_sort(scored.begin(), scored.end(), [&](const Trial* a, const Trial* b) {
      const double x = a->scores.at(epochs), y = b->scores.at(epochs);
      return higher ? x > y : x < y;
    });
    auto keep = static_cast<std::size_t>(static_cast<double>(trials_.size()) /
                                         std::pow(static_cast<double>(options_.eta), k));
    keep = std::min(std::max<std::size_t>(keep, 1), scored.size());
    const std::lock_guard lock(mutex_);
    for (std::size_t i = keep; i < scored.size(); ++i) {
      scored[i]->status = "stopped";
      scored[i]->reason = "halving: not in the best " + std::to_string(keep) + " after epoch " +
                          std::to_string(epochs);
    }
    scored.resize(keep);
    save_locked();
    return scored;
  }

  // Trains each trial of the rung that has no score at `epochs` yet, `parallel` at a time.
  void run_rung(const std::vector<Trial*>& rung, std::int64_t epochs, std::int64_t pause_at) {
    std::vector<Trial*> todo;
    for (Trial* t : rung) {
      if (t->status != "failed" && !t->scores.count(epochs)) todo.push_back(t);
    }
    // A trial's own failure is recorded and the search goes on; what stops the search (the state
    // cannot be written, a trial was interrupted) is carried to this thread and thrown here, once
    // the trials under way have ended.
    std::atomic<std::size_t> next{0};
    std::exception_ptr stop;
    std::mutex stop_mutex;
    auto work = [&] {
      for (std::size_t i; (i = next++) < todo.size();) {
        try {
          run_trial(*todo[i], epochs, pause_at);
        } catch (...) {
          const std::lock_guard lock(stop_mutex);
          if (!stop) stop = std::current_exception();
          next = todo.size();
        }
      }
    };
    const auto workers =
        std::min<std::size_t>(static_cast<std::size_t>(options_.parallel), todo.size());
    std::vector<std::thread> pool;
    for (std::size_t w = 1; w < workers; ++w) pool.emplace_back(work);
    work();
    for (std::thread& t : pool) t.join();
    if (stop) std::rethrow_exception(stop);
  }

  std::int64_t threads_per_trial() const {
    const std::int64_t cores = options_.threads > 0
                                   ? options_.threads
                                   : static_cast<std::int64_t>(std::thread::hardware_concurrency());
    return std::max<std::int64_t>(1, cores / std::max<std::int64_t>(1, options_.parallel));
  }

  // Whatever goes wrong with the trial is its failure, not the search's; an interrupted trial
  // (Ctrl-C, a kill of the trial process) stops the search, the trial left to resume.
  void run_trial(Trial& t, std::int64_t epochs, std::int64_t pause_at) {
    try {
      train_trial(t, epochs, pause_at);
    } catch (const TrialInterrupted&) {
      throw;
    } catch (const std::exception& e) {
      fail(t, e.what());
    }
  }

  void train_trial(Trial& t, std::int64_t epochs, std::int64_t pause_at) {
    const std::string folder = trial_folder(dir_, t.number);
    Json json = config_at(base_, t.point);
    json["run_dir"] = folder;
    const TrainConfig config = train_config_from_json(json, "trial " + std::to_string(t.number));
    // A trial that was cut short continues from its checkpoint; one never started, from scratch.
    const bool resume = config.data.folds > 0 ? fs::exists(io::RunDirectory(folder).config())
                                              : fs::exists(config.checkpoint_path());
    if (!resume) write_run_config(folder, json);
    {
      const std::lock_guard lock(mutex_);
      t.status = "running";
      save_locked();
    }
    if (observer_.on_trial_start) observer_.on_trial_start(t, epochs);
    // A run that reached `epochs` before the search was stopped is not run again (kiln train
    // would refuse to resume it); k-fold runs keep their finished folds themselves.
    const bool reached = resume && config.data.folds == 0 &&
                         io::load_model(config.checkpoint_path()).train_state.epoch >= epochs;
    const auto start = std::chrono::steady_clock::now();
    const TrialExit exit =
        reached ? TrialExit{} : runner_({folder, resume, pause_at, threads_per_trial()});
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    {
      const std::lock_guard lock(mutex_);
      t.seconds += seconds;
    }
    if (exit.interrupted) {
      throw TrialInterrupted("trial " + std::to_string(t.number) + " was interrupted (" +
                             exit.reason + "); run the same command to continue the search");
    }
    if (!exit.ok) {
      fail(t, exit.reason.empty() ? "kiln train failed" : exit.reason);
      return;
    }
    const double score = read_score(config, options_.metric, epochs);
    if (std::isnan(score)) {
      fail(t, "its log has no " + options_.metric + " at epoch " + std::to_string(epochs));
      return;
    }
    {
      const std::lock_guard lock(mutex_);
      t.scores[epochs] = score;
      t.status = "paused";
      t.reason.clear();
      save_locked();
    }
    if (observer_.on_trial_end) observer_.on_trial_end(t);
  }

  void fail(Trial& t, const std::string& reason) {
    {
      const std::lock_guard lock(mutex_);
      t.status = "failed";
      t.reason = reason;
      save_locked();
    }
    if (observer_.on_trial_end) observer_.on_trial_end(t);
  }

  const Trial* best_trial() const {
    const Trial* best = nullptr;
    const bool higher = higher_is_better(options_.metric);
    for (const Trial& t : trials_) {
      if (t.status != "finished") continue;
      if (best == nullptr || (higher ? t.score() > best->score() : t.score() < best->score()))
        best = &t;
    }
    return best;
  }

  void save() {
    const std::lock_guard lock(mutex_);
    save_locked();
  }

  // search.json first: it is the state; trials.csv, best.json and the plots are views of it.
  void save_locked() {
    Json trials = Json::array();
    for (const Trial& t : trials_) trials.push_back(trial_json(t));
    const Json state = {{"version", 1}, {"spec", spec_}, {"trials", trials}};
    io::write_file_atomically(fs::path(dir_) / "search.json", state.dump(2) + "\n",
                              "the search's state");
    const Trial* best = best_trial();
    write_search_files(dir_, space_, options_.metric, trials_, best ? best_config(*best) : Json());
  }

  // The best trial's config, ready for kiln train --config: its own run directory and k-fold
  // setting left out, so it trains one model on all the training data.
  Json best_config(const Trial& t) const {
    Json config = config_at(base_, t.point);
    config.erase("run_dir");
    config["data"]["folds"] = 0;
    config["data"]["fold"] = 0;
    return config;
  }

  Json base_;
  std::vector<SearchParam> space_;
  SearchOptions options_;
  std::string dir_;
  const TrialRunner& runner_;
  const SearchObserver& observer_;
  Json spec_;
  std::vector<Trial> trials_;
  std::mutex mutex_;
};

}  // namespace

double Trial::score() const { return scores.empty() ? kNaN : scores.rbegin()->second; }

bool higher_is_better(const std::string& metric) { return metric != "val_loss"; }

std::vector<std::int64_t> halving_rungs(std::int64_t min_epochs, std::int64_t eta,
                                        std::int64_t epochs) {
  std::vector<std::int64_t> rungs;
  for (std::int64_t e = min_epochs; e < epochs; e *= eta) rungs.push_back(e);
  rungs.push_back(epochs);
  return rungs;
}

SearchResult run_search(const Json& base, const std::vector<SearchParam>& space,
                        const SearchOptions& options, const std::string& dir,
                        const TrialRunner& runner, const SearchObserver& observer) {
  return Search(base, space, options, dir, runner, observer).run();
}

}  // namespace kiln::pipeline
