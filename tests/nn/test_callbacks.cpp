// Schedules and callbacks against hand-computed values and scripted metric sequences.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "nn/callbacks/early_stopping.hpp"
#include "nn/callbacks/reduce_on_plateau.hpp"
#include "nn/error.hpp"
#include "nn/training/schedule.hpp"

namespace kiln::nn {
namespace {

TEST(Schedule, EveryFormAgainstItsFormula) {
  EXPECT_DOUBLE_EQ(Schedule::parse("constant").rate(0.1, 7, 10), 0.1);
  const Schedule step = Schedule::parse("step:3:0.5");
  EXPECT_DOUBLE_EQ(step.rate(0.8, 2, 10), 0.8);
  EXPECT_DOUBLE_EQ(step.rate(0.8, 3, 10), 0.4);
  EXPECT_DOUBLE_EQ(step.rate(0.8, 7, 10), 0.2);
  EXPECT_DOUBLE_EQ(Schedule::parse("exponential:0.9").rate(1.0, 2, 10), 0.81);
  const Schedule cosine = Schedule::parse("cosine:0.01");
  EXPECT_DOUBLE_EQ(cosine.rate(0.1, 0, 10), 0.1);
  EXPECT_NEAR(cosine.rate(0.1, 5, 10), 0.01 + 0.09 * 0.5, 1e-12);
  EXPECT_NEAR(cosine.rate(0.1, 10, 10), 0.01, 1e-12);
  const Schedule pieces = Schedule::parse("piecewise:0=0.1,5=0.01,8=0.001");
  EXPECT_DOUBLE_EQ(pieces.rate(1.0, 4, 10), 0.1);
  EXPECT_DOUBLE_EQ(pieces.rate(1.0, 5, 10), 0.01);
  EXPECT_DOUBLE_EQ(pieces.rate(1.0, 9, 10), 0.001);
  const Schedule warm = Schedule::parse("step:10:0.1+warmup:4");
  EXPECT_DOUBLE_EQ(warm.rate(0.4, 0, 20), 0.1);
  EXPECT_DOUBLE_EQ(warm.rate(0.4, 3, 20), 0.4);
  EXPECT_DOUBLE_EQ(warm.rate(0.4, 12, 20), 0.04);
  for (const char* bad :
       {"step:3", "cosine:a", "piecewise:1=0.1", "piecewise:0=0.1,0=0.2", "linear", "step:0:0.1",
        "cosine+warmup:0", "cosine+warmup:2.5steps", "cosine+warmup:0steps", "one_cycle:1",
        "one_cycle:0.3:0.5", "one_cycle:0.3:25:1e4:9"}) {
    EXPECT_THROW(Schedule::parse(bad), Error) << bad;
  }
}

double cosine_rate_at(double fraction) { return (1 + std::cos(std::numbers::pi * fraction)) / 2; }

// 10 steps per epoch, 4 epochs planned.
SchedulePoint at_step(std::int64_t global_step) {
  return {global_step / 10, global_step % 10, 10, 4};
}

TEST(Schedule, EvaluatesEveryStepAtTheFractionalEpoch) {
  const Schedule cosine = Schedule::parse("cosine");
  // Step 5 of epoch 1: e = 1.5 of 4, so the rate is (1 + cos(0.375π)) / 2.
  EXPECT_NEAR(cosine.rate(1.0, at_step(15)), cosine_rate_at(0.375), 1e-12);
  EXPECT_NEAR(cosine.rate(1.0, at_step(0)), 1.0, 1e-12);
  const Schedule step = Schedule::parse("step:1:0.5");
  EXPECT_DOUBLE_EQ(step.rate(1.0, at_step(9)), 1.0);  // still epoch 0
  EXPECT_DOUBLE_EQ(step.rate(1.0, at_step(10)), 0.5);
  EXPECT_NEAR(Schedule::parse("exponential:0.25").rate(1.0, at_step(5)), 0.5, 1e-12);  // 0.25^0.5
}

TEST(Schedule, WarmUpRampsStepByStepFromASmallRate) {
  // One epoch of warm-up = 10 steps: step s takes (s + 1) / 10 of the rate, then the schedule.
  const Schedule epochs = Schedule::parse("constant+warmup:1");
  EXPECT_DOUBLE_EQ(epochs.rate(0.5, at_step(0)), 0.05);
  EXPECT_DOUBLE_EQ(epochs.rate(0.5, at_step(4)), 0.25);
  EXPECT_DOUBLE_EQ(epochs.rate(0.5, at_step(9)), 0.5);
  EXPECT_DOUBLE_EQ(epochs.rate(0.5, at_step(10)), 0.5);
  // Half an epoch, and 4 steps: the same ramp counted in steps.
  EXPECT_DOUBLE_EQ(Schedule::parse("constant+warmup:0.5").rate(1.0, at_step(1)), 0.4);
  const Schedule steps = Schedule::parse("cosine+warmup:4steps");
  EXPECT_NEAR(steps.rate(1.0, at_step(0)), 0.25 * cosine_rate_at(0.0), 1e-12);
  EXPECT_NEAR(steps.rate(1.0, at_step(2)), 0.75 * cosine_rate_at(0.05), 1e-12);
  EXPECT_NEAR(steps.rate(1.0, at_step(3)), cosine_rate_at(0.075), 1e-12);
}

TEST(Schedule, OneCycleRisesThenFallsAsPyTorchsOneCycleLR) {
  // 40 steps, P 0.25: up from 1/10 of the rate to the rate at step 9, then down to 1/(10·100)
  // of it at step 39, each along half a cosine.
  const Schedule cycle = Schedule::parse("one_cycle:0.25:10:100");
  EXPECT_NEAR(cycle.rate(2.0, at_step(0)), 0.2, 1e-12);
  EXPECT_NEAR(cycle.rate(2.0, at_step(9)), 2.0, 1e-12);
  EXPECT_NEAR(cycle.rate(2.0, at_step(4)), 2.0 + (0.2 - 2.0) * cosine_rate_at(4.0 / 9), 1e-12);
  EXPECT_NEAR(cycle.rate(2.0, at_step(39)), 0.002, 1e-12);
  const double t = (24.0 - 9.0) / 30.0;
  EXPECT_NEAR(cycle.rate(2.0, at_step(24)), 0.002 + (2.0 - 0.002) * cosine_rate_at(t), 1e-12);
  // PyTorch's defaults: P 0.3, D 25, F 1e4.
  const Schedule defaults = Schedule::parse("one_cycle");
  EXPECT_NEAR(defaults.rate(1.0, at_step(0)), 0.04, 1e-12);
  EXPECT_NEAR(defaults.rate(1.0, at_step(39)), 0.04 / 1e4, 1e-15);
}

EpochLogs logs_with(std::int64_t epoch, double val_loss, double val_accuracy = 0.5) {
  EpochLogs logs;
  logs.epoch = epoch;
  logs.loss = val_loss;
  logs.validation = EvalResult{val_loss, val_accuracy, 10};
  return logs;
}

// Feeds a metric sequence; returns the 1-based epoch at which the callback said stop (0: never).
std::int64_t stop_epoch(EarlyStopping& es, const std::vector<double>& values) {
  TrainState state;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (es.on_epoch_end(state, logs_with(static_cast<std::int64_t>(i + 1), values[i])) ==
        Verdict::kStop) {
      return static_cast<std::int64_t>(i + 1);
    }
  }
  return 0;
}

TEST(EarlyStopping, StopsAfterPatienceEpochsWithoutImprovement) {
  EarlyStopping es({.monitor = "val_loss", .patience = 2}, nullptr);
  // best 0.5 at epoch 2; epochs 3 and 4 do not improve → stop at 4.
  EXPECT_EQ(stop_epoch(es, {0.9, 0.5, 0.6, 0.55, 0.1}), 4);
  EXPECT_EQ(es.best_epoch(), 2);
  EXPECT_DOUBLE_EQ(es.best(), 0.5);
}

TEST(EarlyStopping, MinDeltaModeAndBaseline) {
  // Improvements smaller than min_delta do not count.
  EarlyStopping delta({.monitor = "val_loss", .min_delta = 0.1, .patience = 1}, nullptr);
  EXPECT_EQ(stop_epoch(delta, {1.0, 0.95, 0.5}), 2);
  // Accuracy is maximized under "auto".
  EarlyStopping acc({.monitor = "val_accuracy", .patience = 1}, nullptr);
  TrainState s;
  EXPECT_EQ(acc.on_epoch_end(s, logs_with(1, 1.0, 0.6)), Verdict::kContinue);
  EXPECT_EQ(acc.on_epoch_end(s, logs_with(2, 1.0, 0.7)), Verdict::kContinue);
  EXPECT_EQ(acc.on_epoch_end(s, logs_with(3, 1.0, 0.65)), Verdict::kStop);
  // With a baseline, an epoch that improves on the best but not on the baseline does not reset
  // patience: 0.9 (improves, above the 0.2 baseline: wait stays 1), 0.95 (wait 2) → stop at 2,
  // where without a baseline the wait restarts at epoch 1 and the stop comes at 3.
  EarlyStopping base({.monitor = "val_loss", .patience = 2, .baseline = 0.2}, nullptr);
  EXPECT_EQ(stop_epoch(base, {0.9, 0.95, 0.97}), 2);
  EarlyStopping no_base({.monitor = "val_loss", .patience = 2}, nullptr);
  EXPECT_EQ(stop_epoch(no_base, {0.9, 0.95, 0.97}), 3);
  EXPECT_THROW(EarlyStopping({.monitor = "val_loss", .mode = "up"}, nullptr), Error);
}

TEST(EarlyStopping, RestoresTheBestWeights) {
  Model model =
      Model::from_config({{"input", {2, 1, 1}}, {"layers", {{{"type", "dense"}, {"units", 1}}}}});
  EarlyStopping es({.monitor = "val_loss", .patience = 1, .restore_best_weights = true}, &model);
  TrainState s;
  Parameter& w = *model.parameters()[0];
  const std::vector<double> values = {0.5, 0.3, 0.4, 0.45};
  for (std::size_t e = 0; e < values.size(); ++e) {
    w.value[0] = static_cast<float>(e + 1);  // the weights "trained" in epoch e + 1
    if (es.on_epoch_end(s, logs_with(static_cast<std::int64_t>(e + 1), values[e])) ==
        Verdict::kStop)
      break;
  }
  EXPECT_EQ(es.stopped_epoch(), 3);
  EXPECT_EQ(w.value[0], 2.f);  // epoch 2 was the best
}

TEST(ReduceOnPlateau, FollowsKerasWithCooldownAndFloor) {
  ReduceOnPlateau plateau(
      {.monitor = "val_loss", .factor = 0.5, .patience = 2, .min_lr = 0.2, .cooldown = 1});
  TrainState s;
  s.learning_rate = 1.f;
  const std::vector<double> values = {1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0};
  std::vector<float> rates;
  for (std::size_t e = 0; e < values.size(); ++e) {
    plateau.on_epoch_end(s, logs_with(static_cast<std::int64_t>(e + 1), values[e]));
    rates.push_back(s.learning_rate);
  }
  // epoch 1 sets best; 2, 3 stall → ×0.5 at 3; 4 cooldown; 5, 6 stall → 0.25 at 6; 7 cooldown;
  // 8 stalls (wait 1): the floor 0.2 is reached only later.
  EXPECT_EQ(rates, (std::vector<float>{1.f, 1.f, 0.5f, 0.5f, 0.5f, 0.25f, 0.25f, 0.25f}));
  TrainState t;
  t.learning_rate = 0.25f;
  ReduceOnPlateau floor_test({.monitor = "loss", .factor = 0.5, .patience = 0, .min_lr = 0.2});
  floor_test.on_epoch_end(t, logs_with(1, 1.0));  // the first value is always an improvement
  EXPECT_FLOAT_EQ(t.learning_rate, 0.25f);
  floor_test.on_epoch_end(t, logs_with(2, 1.0));
  EXPECT_FLOAT_EQ(t.learning_rate, 0.2f);  // max(0.125, 0.2)
}

TEST(EpochLogs, MetricsByNameWithClearErrors) {
  EpochLogs logs;
  logs.loss = 0.3;
  logs.accuracy = 0.9;
  EXPECT_DOUBLE_EQ(logs.metric("accuracy"), 0.9);
  EXPECT_THROW(logs.metric("val_loss"), Error);  // no validation data
  EXPECT_THROW(logs.metric("f1"), Error);
}

}  // namespace
}  // namespace kiln::nn

namespace kiln::nn {
namespace {

// A checkpoint between any two epochs: a fresh callback restored from the saved TrainState makes
// the same decisions as the one that ran straight through.
TEST(CallbackState, EarlyStoppingResumesItsCountersFromTheTrainState) {
  const std::vector<double> values = {1.0, 0.8, 0.85, 0.9, 0.7, 0.75, 0.8, 0.9, 0.95};
  const EarlyStoppingOptions options{.monitor = "val_loss", .patience = 3};
  EarlyStopping straight(options, nullptr);
  const std::int64_t expected = stop_epoch(straight, values);
  ASSERT_EQ(expected, 8);  // best at 5, then three epochs without improvement
  for (std::size_t cut = 1; cut < static_cast<std::size_t>(expected); ++cut) {
    EarlyStopping first(options, nullptr);
    TrainState state;
    for (std::size_t i = 0; i < cut; ++i) {
      first.on_epoch_end(state, logs_with(static_cast<std::int64_t>(i + 1), values[i]));
    }
    const Json saved = Json::parse(state.callbacks.dump());  // through text, as a checkpoint does
    TrainState resumed;
    resumed.callbacks = saved;
    EarlyStopping second(options, nullptr);
    second.restore(resumed);
    std::int64_t stopped = 0;
    for (std::size_t i = cut; i < values.size() && stopped == 0; ++i) {
      if (second.on_epoch_end(resumed, logs_with(static_cast<std::int64_t>(i + 1), values[i])) ==
          Verdict::kStop) {
        stopped = static_cast<std::int64_t>(i + 1);
      }
    }
    EXPECT_EQ(stopped, expected) << "checkpoint after epoch " << cut;
  }
}

// restore_best_weights across a resume: the best epoch (2) came before the checkpoint (after
// epoch 3), and its weights ride in the TrainState the checkpoint keeps.
TEST(CallbackState, EarlyStoppingRestoresBestWeightsSavedBeforeAResume) {
  Model model =
      Model::from_config({{"input", {2, 1, 1}}, {"layers", {{{"type", "dense"}, {"units", 1}}}}});
  const EarlyStoppingOptions options{
      .monitor = "val_loss", .patience = 2, .restore_best_weights = true};
  Parameter& w = *model.parameters()[0];
  const std::vector<double> values = {0.5, 0.3, 0.4, 0.45};
  EarlyStopping first(options, &model);
  TrainState state;
  for (std::size_t e = 0; e < 3; ++e) {
    w.value[0] = static_cast<float>(e + 1);
    ASSERT_EQ(first.on_epoch_end(state, logs_with(static_cast<std::int64_t>(e + 1), values[e])),
              Verdict::kContinue);
  }
  TrainState resumed;
  resumed.callbacks = Json::parse(state.callbacks.dump());
  resumed.callback_arrays = state.callback_arrays;
  EarlyStopping second(options, &model);
  second.restore(resumed);
  w.value[0] = 4.f;
  EXPECT_EQ(second.on_epoch_end(resumed, logs_with(4, values[3])), Verdict::kStop);
  EXPECT_EQ(w.value[0], 2.f) << "epoch 2's weights, kept across the resume";
  // A checkpoint written without them (older files): the current weights stay.
  TrainState without = resumed;
  without.callback_arrays.clear();
  without.callbacks = Json::parse(state.callbacks.dump());
  EarlyStopping third(options, &model);
  third.restore(without);
  w.value[0] = 4.f;
  EXPECT_EQ(third.on_epoch_end(without, logs_with(4, values[3])), Verdict::kStop);
  EXPECT_EQ(w.value[0], 4.f);
}

TEST(CallbackState, ReduceOnPlateauResumesItsCountersFromTheTrainState) {
  const std::vector<double> values = {1.0, 0.9, 0.95, 0.97, 0.99, 0.98, 0.97, 0.96, 0.95};
  const ReduceOnPlateauOptions options{
      .monitor = "val_loss", .factor = 0.5, .patience = 2, .cooldown = 1};
  auto rates = [&](std::size_t cut) {
    std::vector<float> out;
    ReduceOnPlateau first(options);
    TrainState state;
    state.learning_rate = 1.f;
    for (std::size_t i = 0; i < cut; ++i) {
      first.on_epoch_end(state, logs_with(static_cast<std::int64_t>(i + 1), values[i]));
      out.push_back(state.learning_rate);
    }
    TrainState resumed = state;
    resumed.callbacks = Json::parse(state.callbacks.dump());
    ReduceOnPlateau second(options);
    second.restore(resumed);
    for (std::size_t i = cut; i < values.size(); ++i) {
      second.on_epoch_end(resumed, logs_with(static_cast<std::int64_t>(i + 1), values[i]));
      out.push_back(resumed.learning_rate);
    }
    return out;
  };
  const std::vector<float> straight = rates(values.size());
  EXPECT_LT(straight.back(), 1.f);  // the sequence does trigger reductions
  for (std::size_t cut = 1; cut < values.size(); ++cut) {
    EXPECT_EQ(rates(cut), straight) << "checkpoint after epoch " << cut;
  }
}

}  // namespace
}  // namespace kiln::nn
