// The pieces of deterministic data parallelism that run in one process: the step plan, the
// ordered gradient fold (gradient accumulation), and the exchanged batch records. Several ranks
// are tested through mpirun in tests/apps/test_mpi_cli.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "nn/distributed/batch_record.hpp"
#include "nn/distributed/record_exchange.hpp"
#include "nn/distributed/step_plan.hpp"
#include "nn/error.hpp"
#include "nn/model/model.hpp"
#include "nn/random.hpp"
#include "nn/training/optimizer.hpp"
#include "nn/training/trainer.hpp"

namespace kiln::nn {
namespace {

TEST(StepPlan, RanksShareEveryMicroBatchExactlyOnceRoundRobin) {
  for (const bool drop_last : {false, true}) {
    for (const int ranks : {1, 2, 3, 4}) {
      StepPlan plan{103, 20, 5, drop_last, 0, ranks};
      std::vector<int> seen(103, 0);
      for (int r = 0; r < ranks; ++r) {
        plan.rank = r;
        const std::vector<std::uint64_t> mine = plan.positions(0);
        for (const std::uint64_t p : mine) ++seen[p];
        // The first run of 5 of rank r is micro-batch r of step 0.
        if (!mine.empty()) {
          EXPECT_EQ(mine.front(), static_cast<std::uint64_t>(5 * r));
        }
      }
      const std::int64_t covered = drop_last ? 100 : 103;
      for (std::int64_t p = 0; p < 103; ++p) EXPECT_EQ(seen[p], p < covered ? 1 : 0) << p;
    }
  }
  const StepPlan plan{103, 20, 5, false, 1, 2};
  EXPECT_EQ(plan.steps(), 6);
  EXPECT_EQ(plan.step_samples(5), 3);
  EXPECT_EQ(plan.micro_batches(5), 1);
  EXPECT_EQ(plan.rounds(0), 2);
  EXPECT_EQ(plan.micro_samples(5, 0), 3);
  // Rank 1 of 2 from step 5 on: the last step has one micro-batch, rank 0's.
  EXPECT_TRUE(plan.positions(5).empty());
  EXPECT_EQ(plan.positions(4).front(), 85u);
}

TEST(StepPlan, RefusesAMicroBatchThatDoesNotDivideTheBatch) {
  EXPECT_THROW((StepPlan{100, 20, 6, false, 0, 1}.check()), Error);
  EXPECT_THROW((StepPlan{100, 20, 5, false, 2, 2}.check()), Error);
  EXPECT_NO_THROW((StepPlan{100, 20, 5, false, 1, 2}.check()));
}

TEST(BatchRecords, OneRankKeepsItsOwnInOrder) {
  Solo solo;
  const std::vector<BatchRecord> mine = {{0.5, 3, 2, 3, {1.0, 2.0}}, {0.25, 1, 0, 1, {}}};
  const std::vector<BatchRecord> all = gather_in_order(solo, mine);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].statistics, (std::vector<double>{1.0, 2.0}));
  EXPECT_EQ(all[1].samples, 1);
}

// Rank 1 of 3, whose peers' records were written beforehand: what all_gather_bytes would return.
class RankOneOfThree final : public Communicator {
 public:
  explicit RankOneOfThree(std::vector<std::vector<std::uint8_t>> peers)
      : peers_(std::move(peers)) {}
  int rank() const override { return 1; }
  int size() const override { return 3; }
  void all_to_all(const float*, std::span<const int>, std::span<const int>, float*,
                  std::span<const int>, std::span<const int>) override {}
  void all_gather(const float*, std::span<const int>, std::span<const int>, float*) override {}
  std::vector<std::vector<std::uint8_t>> all_gather_bytes(
      std::span<const std::uint8_t> mine) override {
    return {peers_[0], {mine.begin(), mine.end()}, peers_[1]};
  }

 private:
  std::vector<std::vector<std::uint8_t>> peers_;
};

std::vector<std::uint8_t> records_of(std::initializer_list<double> losses) {
  RecordWriter out;
  out.put(static_cast<std::uint64_t>(losses.size()));
  for (const double loss : losses) {
    out.put(loss);
    out.put(std::int64_t{1});
    out.put(std::int64_t{0});
    out.put(std::int64_t{0});
    out.put_array(std::vector<double>{loss * 10});
    out.put(loss / 2);  // absolute_error
  }
  return out.bytes();
}

// Rank r's j-th record is number j·3 + r: ranks 0 and 1 hold two, rank 2 one.
TEST(BatchRecords, RanksRecordsComeBackInRoundRobinOrder) {
  RankOneOfThree ranks({records_of({0, 3}), records_of({2})});
  const std::vector<BatchRecord> all =
      gather_in_order(ranks, {{1.0, 1, 0, 0, {10.0}, 0.5}, {4.0, 1, 0, 0, {40.0}, 2.0}});
  ASSERT_EQ(all.size(), 5u);
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].loss, static_cast<double>(i));
    EXPECT_EQ(all[i].statistics, std::vector<double>{10.0 * static_cast<double>(i)});
    EXPECT_EQ(all[i].absolute_error, static_cast<double>(i) / 2);
  }
  std::vector<std::uint8_t> cut = records_of({0, 3});
  cut.resize(cut.size() - 3);
  RankOneOfThree truncated({cut, records_of({2})});
  try {
    gather_in_order(truncated, {});
    FAIL() << "a truncated record was read";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "a rank sent a truncated batch record");
  }
}

// 48 samples, 4 features, 3 classes; batches of `rows` in order.
class Rows final : public BatchSource {
 public:
  explicit Rows(std::int64_t rows) : rows_(rows) {}
  Shape sample_shape() const override { return {1, 4, 1, 1}; }
  std::int64_t num_samples() const override { return 48; }
  void start_epoch(std::uint64_t) override { next_ = 0; }
  bool next(Batch& batch) override {
    if (next_ >= 48) return false;
    const std::int64_t n = std::min<std::int64_t>(rows_, 48 - next_);
    batch.inputs.resize({n, 4, 1, 1});
    batch.labels.clear();
    batch.indices.clear();
    for (std::int64_t r = 0; r < n; ++r) {
      const std::int64_t i = next_ + r;
      Rng rng({9, 0, static_cast<std::uint64_t>(i), 2});
      for (int f = 0; f < 4; ++f) batch.inputs[r * 4 + f] = rng.normal(0, 1);
      batch.labels.push_back(static_cast<std::int32_t>(i % 3));
      batch.indices.push_back(static_cast<std::uint64_t>(i));
    }
    next_ += n;
    return true;
  }

 private:
  std::int64_t rows_, next_ = 0;
};

// A 4-6-3 net, with batch norm after its first layer or without, trained one epoch of two steps
// of 24 in micro-batches of `micro`: its weights (and running statistics) afterwards.
std::vector<float> state_after_one_epoch(bool batch_norm, std::int64_t micro, float lr) {
  Json layers = {{{"type", "dense"}, {"units", 6}}};
  if (batch_norm) layers.push_back({{"type", "batch_norm"}});
  layers.push_back({{"type", "relu"}});
  layers.push_back({{"type", "dense"}, {"units", 3}});
  Model model = Model::from_config(Json{{"input", {4, 1, 1}}, {"layers", layers}});
  model.initialize(11);
  auto sgd = make_optimizer(Json{{"type", "sgd"}});
  Rows source(micro);
  TrainState state;
  state.learning_rate = lr;
  Trainer::fit(model, *sgd, source, state, 1, StepLayout{24, micro, false, nullptr});
  EXPECT_EQ(state.step, 2);
  std::vector<float> all;
  for (Tensor* t : model.state_tensors()) all.insert(all.end(), t->span().begin(), t->span().end());
  return all;
}

TEST(GradientAccumulation, MicroBatchesSumToTheWholeBatchsGradient) {
  // Without batch norm's per-micro-batch statistics the sum of the micro-batch gradients is the
  // whole batch's gradient up to rounding: check with a net without it.
  const std::vector<float> whole = state_after_one_epoch(false, 24, 0.5f),
                           micro = state_after_one_epoch(false, 6, 0.5f);
  ASSERT_EQ(whole.size(), micro.size());
  double largest = 0;
  for (std::size_t i = 0; i < whole.size(); ++i) {
    largest = std::max(largest, static_cast<double>(std::abs(whole[i] - micro[i])));
  }
  // Equal up to rounding: the micro-batch sums are added in another order than one GEMM adds.
  EXPECT_LT(largest, 1e-5);
}

TEST(GradientAccumulation, BatchNormRunningStatisticsFoldEveryMicroBatchInOrder) {
  // Four micro-batches of 6 per step: the running mean moves four times per step, as in four
  // momentum updates, not once.
  const std::vector<float> micro = state_after_one_epoch(true, 6, 0.1f);
  const std::vector<float> whole = state_after_one_epoch(true, 24, 0.1f);
  EXPECT_NE(micro, whole);
  EXPECT_EQ(state_after_one_epoch(true, 6, 0.1f), micro);  // and deterministic
}

}  // namespace
}  // namespace kiln::nn
