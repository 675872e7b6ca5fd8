// kiln search: a hyperparameter search over any config keys, each trial a `kiln train` run
// directory inside the search's --run-dir (pipeline/search/search.hpp).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>

#include "apps/shared/commands.hpp"
#include "apps/shared/train_options.hpp"
#include "apps/shared/trial_process.hpp"
#include "apps/shared/validators.hpp"
#include "nn/error.hpp"
#include "pipeline/search/search.hpp"
#include "pipeline/search/search_files.hpp"
#include "pipeline/search/search_space.hpp"

namespace kiln::apps {
namespace {

struct SearchCommandLine {
  std::string space_file;
  std::vector<std::string> params;
  pipeline::SearchOptions options;
  std::int64_t seed = 1;
};

std::vector<pipeline::SearchParam> search_space(const SearchCommandLine& s) {
  std::vector<pipeline::SearchParam> space;
  if (!s.space_file.empty()) {
    space = pipeline::parse_search_space(pipeline::load_config_file(s.space_file), s.space_file);
  }
  for (const std::string& p : s.params) {
    pipeline::SearchParam param = pipeline::parse_search_assignment(p);
    // A flag names a key the file also has: the flag wins, as everywhere in kiln.
    std::erase_if(space, [&](const pipeline::SearchParam& q) { return q.key == param.key; });
    space.push_back(std::move(param));
  }
  if (space.empty()) {
    throw ConfigError(
        "nothing to search: give --space FILE or --param key=spec, e.g. --param "
        "optimizer.lr='loguniform(1e-4, 1e-1)'");
  }
  return space;
}

std::string score_text(const pipeline::Trial& t) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4f", t.score());
  return text;
}

void run_search(const TrainCommandLine& x, const ConfigFlags& flags, SearchCommandLine& s) {
  const std::optional<CommandConfig> read = command_config(x, flags, pipeline::ModelOutput::kNone);
  if (!read) return;
  const std::string dir = read->config.run_dir;
  if (dir.empty())
    throw ConfigError("give the search a folder: --run-dir DIR (its trials go there)");
  Json base = read->json;
  base["run_dir"] = "";
  s.options.seed = static_cast<std::uint64_t>(s.seed);
  s.options.threads = read->config.threads;
  const std::vector<pipeline::SearchParam> space = search_space(s);

  std::mutex lines;  // trials end on several threads with --parallel
  pipeline::SearchObserver observer;
  const std::string& metric = s.options.metric;
  observer.on_trial_start = [&](const pipeline::Trial& t, std::int64_t epochs) {
    const std::lock_guard lock(lines);
    std::printf("trial %lld: %s, to epoch %lld\n", static_cast<long long>(t.number),
                pipeline::point_text(t.point).c_str(), static_cast<long long>(epochs));
    std::fflush(stdout);
  };
  observer.on_trial_end = [&](const pipeline::Trial& t) {
    const std::lock_guard lock(lines);
    if (t.status == "failed") {
      std::printf("trial %lld failed: %s\n", static_cast<long long>(t.number), t.reason.c_str());
    } else {
      std::printf("trial %lld: %s %s after %lld epochs (%.1f s)\n",
                  static_cast<long long>(t.number), metric.c_str(), score_text(t).c_str(),
                  static_cast<long long>(t.epochs()), t.seconds);
    }
    std::fflush(stdout);
  };
  const pipeline::SearchResult r =
      pipeline::run_search(base, space, s.options, dir, run_trial_process, observer);

  std::size_t finished = 0, failed = 0, stopped = 0;
  for (const pipeline::Trial& t : r.trials) {
    finished += t.status == "finished";
    failed += t.status == "failed";
    stopped += t.status == "stopped";
  }
  std::printf("%zu trials: %zu finished, %zu stopped by halving, %zu failed\n", r.trials.size(),
              finished, stopped, failed);
  const std::filesystem::path folder(dir);
  std::printf("wrote %s, %s\n", (folder / "trials.csv").c_str(), (folder / "search.json").c_str());
  if (r.best == nullptr) throw Error("no trial finished; trials.csv says why each failed");
  std::printf("best: trial %lld, %s %s: %s\n", static_cast<long long>(r.best->number),
              metric.c_str(), score_text(*r.best).c_str(),
              pipeline::point_text(r.best->point).c_str());
  std::printf("wrote %s; train it with: kiln train --config %s --run-dir DIR\n",
              r.best_config.c_str(), r.best_config.c_str());
}

}  // namespace

void add_search_command(CLI::App& app) {
  auto x = std::make_shared<TrainCommandLine>();
  auto s = std::make_shared<SearchCommandLine>();
  CLI::App* cmd = app.add_subcommand(
      "search",
      "Search hyperparameters: trials of a search space over any config keys, each a kiln train "
      "run directory in --run-dir, scored by a validation metric; writes trials.csv, best.json "
      "and a plot per parameter. Run the same command again to continue a stopped search.");
  auto flags = add_config_options(cmd, *x);
  cmd->add_option("--space", s->space_file,
                  "JSON object of config keys to search, each a list of values or a distribution: "
                  "uniform(a, b), loguniform(a, b), int(a, b), choice([...])")
      ->check(existing_file());
  cmd->add_option("--param", s->params,
                  "One key of the space, e.g. --param optimizer.lr='loguniform(1e-4, 1e-1)' "
                  "--param model.layers.3.rate='uniform(0, 0.6)' (repeatable; over --space)");
  cmd->add_option("--strategy", s->options.strategy,
                  "grid: every combination; random: --trials points; halving: --trials points, "
                  "the best 1/--eta continued from their checkpoints at each rung")
      ->check(CLI::IsMember({"grid", "random", "halving"}))
      ->capture_default_str();
  cmd->add_option("--trials", s->options.trials, "Trials of random and halving")
      ->check(CLI::Range(static_cast<std::int64_t>(1), static_cast<std::int64_t>(100000)))
      ->capture_default_str();
  cmd->add_option("--search-seed", s->seed,
                  "Seed of the trials' values (the config's seed trains each trial)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--metric", s->options.metric,
                  "The score: higher val_accuracy, val_top5, lower val_loss")
      ->check(CLI::IsMember({"val_accuracy", "val_loss", "val_top5"}))
      ->capture_default_str();
  cmd->add_option("--eta", s->options.eta, "Halving: keep the best 1/eta at each rung")
      ->check(CLI::Range(static_cast<std::int64_t>(2), static_cast<std::int64_t>(100)))
      ->capture_default_str();
  cmd->add_option("--min-epochs", s->options.min_epochs, "Halving: epochs of the first rung")
      ->check(CLI::Range(static_cast<std::int64_t>(1), static_cast<std::int64_t>(1) << 30))
      ->capture_default_str();
  cmd->add_option("--parallel", s->options.parallel,
                  "Trials at once, the threads (--threads, else all cores) shared between them")
      ->check(CLI::Range(static_cast<std::int64_t>(1), static_cast<std::int64_t>(256)))
      ->capture_default_str();
  cmd->callback([x, flags, s] { run_search(*x, *flags, *s); });
}

}  // namespace kiln::apps
