// kiln lr-find: the learning-rate range test (Smith 2017) over the same config layers as train
// (defaults ← --config FILE ← flags ← --set) → lr_find.csv, lr_find.png and a suggested rate.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

#include "apps/shared/commands.hpp"
#include "apps/shared/config_flags.hpp"
#include "apps/shared/train_options.hpp"
#include "nn/error.hpp"
#include "nn/training/lr_finder.hpp"
#include "pipeline/training/train_config.hpp"
#include "pipeline/training/training.hpp"

namespace kiln::apps {

namespace {

struct RangeTest {
  nn::LrFindOptions options;
  std::string output_folder = ".";
};

void run_lr_find(const TrainCommandLine& x, const ConfigFlags& flags, const RangeTest& test) {
  const std::optional<CommandConfig> read = command_config(x, flags, pipeline::ModelOutput::kNone);
  if (!read) return;
  const pipeline::TrainConfig& config = read->config;
  pipeline::TrainObserver observer;
  observer.on_start = [](const std::string& summary) { std::printf("%s", summary.c_str()); };
  const nn::LrFindResult r =
      pipeline::find_learning_rate(config, test.options, test.output_folder, observer);
  if (r.points.empty()) throw Error("the range test took no step: the loss was not finite");
  std::printf("range test: %zu steps, rate %.3g to %.3g%s\n", r.points.size(),
              r.points.front().rate, r.points.back().rate,
              r.diverged ? " (stopped: the loss passed 4x its minimum)" : "");
  std::printf("suggested rate: %.3g (steepest descent), %.3g (minimum / 10)\n", r.steepest,
              r.minimum_by_10);
  const auto folder = std::filesystem::path(test.output_folder);
  std::printf("wrote %s, %s\n", (folder / "lr_find.csv").c_str(), (folder / "lr_find.png").c_str());
}

}  // namespace

void add_lr_find_command(CLI::App& app) {
  auto x = std::make_shared<TrainCommandLine>();
  auto test = std::make_shared<RangeTest>();
  CLI::App* cmd = app.add_subcommand(
      "lr-find",
      "The learning-rate range test: train the config's model from its initial weights for one "
      "pass while the rate grows exponentially; write lr_find.csv and lr_find.png and suggest a "
      "rate. No model file is written.");
  auto flags = add_config_options(cmd, *x);
  cmd->add_option("--min", test->options.min_rate, "Rate of the first step")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max", test->options.max_rate, "Rate of the last step")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--steps", test->options.steps, "Optimizer steps from --min to --max")
      ->check(CLI::Range(static_cast<std::int64_t>(2), static_cast<std::int64_t>(1) << 30))
      ->capture_default_str();
  cmd->add_option("--output-dir", test->output_folder, "Where lr_find.csv and lr_find.png go")
      ->capture_default_str();
  cmd->callback([x, flags, test] {
    if (!(test->options.max_rate > test->options.min_rate)) {
      throw ConfigError("--max must be above --min");
    }
    run_lr_find(*x, *flags, *test);
  });
}

}  // namespace kiln::apps
