#include "nn/distributed/gradient_fold.hpp"

#include <algorithm>
#include <chrono>

#include "nn/error.hpp"

namespace kiln::nn {
namespace {

class Stopwatch {
 public:
  explicit Stopwatch(double& total) : total_(total) {}
  ~Stopwatch() {
    total_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  Stopwatch(const Stopwatch&) = delete;
  Stopwatch& operator=(const Stopwatch&) = delete;

 private:
  double& total_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace

GradientFold::GradientFold(std::vector<Parameter*> params, Communicator& ranks)
    : params_(std::move(params)), ranks_(ranks) {
  for (const Parameter* p : params_) total_ += p->grad.size();
  const int n = ranks_.size();
  if (total_ > std::int64_t{2147483647}) {
    throw Error("data-parallel training: " + std::to_string(total_) +
                " parameters is more than one MPI message can carry (2^31 - 1 floats)");
  }
  for (int s = 0; s < n; ++s) {
    const std::int64_t lo = total_ * s / n, hi = total_ * (s + 1) / n;
    slice_offsets_.push_back(static_cast<int>(lo));
    slice_counts_.push_back(static_cast<int>(hi - lo));
  }
  zeros_.assign(static_cast<std::size_t>(n), 0);
  slice_.resize(static_cast<std::size_t>(slice_counts_[static_cast<std::size_t>(ranks_.rank())]));
}

void GradientFold::begin_step(const StepPlan& plan, std::int64_t step) {
  plan_ = plan;
  step_ = step;
  micro_batches_ = plan.micro_batches(step);
  single_ = plan.ranks == 1 && micro_batches_ == 1;
}

void GradientFold::flatten_into(std::vector<float>& out) const {
  out.resize(static_cast<std::size_t>(total_));
  float* at = out.data();
  for (const Parameter* p : params_) at = std::copy_n(p->grad.data(), p->grad.size(), at);
}

void GradientFold::add_to_slice(const float* contribution, bool first) {
  if (first) {
    std::copy_n(contribution, slice_.size(), slice_.begin());
    return;
  }
  for (std::size_t k = 0; k < slice_.size(); ++k) slice_[k] += contribution[k];
}

void GradientFold::add_round(std::int64_t round, bool computed) {
  if (single_) return;
  const int n = ranks_.size(), me = ranks_.rank();
  const auto mine = static_cast<std::size_t>(me);
  if (computed) flatten_into(send_);
  if (n == 1) {
    add_to_slice(send_.data(), round == 0);
    return;
  }
  // Every rank receives its own slice from each rank that computed a micro-batch this round.
  std::vector<int> recv_counts(static_cast<std::size_t>(n)), recv_offsets(recv_counts.size());
  const int slice = slice_counts_[mine];
  for (int r = 0; r < n; ++r) {
    const bool sent = round * n + r < micro_batches_;
    recv_counts[static_cast<std::size_t>(r)] = sent ? slice : 0;
    recv_offsets[static_cast<std::size_t>(r)] = r * slice;
  }
  received_.resize(static_cast<std::size_t>(n) * static_cast<std::size_t>(slice));
  {
    const Stopwatch timing(communication_seconds_);
    ranks_.all_to_all(send_.data(), computed ? slice_counts_ : zeros_, slice_offsets_,
                      received_.data(), recv_counts, recv_offsets);
  }
  for (int r = 0; r < n; ++r) {
    const std::int64_t micro = round * n + r;
    if (micro >= micro_batches_) break;
    add_to_slice(received_.data() + static_cast<std::size_t>(r) * slice, micro == 0);
  }
}

void GradientFold::finish() {
  if (single_) return;
  gathered_.resize(static_cast<std::size_t>(total_));
  if (ranks_.size() == 1) {
    std::copy(slice_.begin(), slice_.end(), gathered_.begin());
  } else {
    const Stopwatch timing(communication_seconds_);
    ranks_.all_gather(slice_.data(), slice_counts_, slice_offsets_, gathered_.data());
  }
  const float* at = gathered_.data();
  for (Parameter* p : params_) {
    std::copy_n(at, p->grad.size(), p->grad.data());
    at += p->grad.size();
  }
}

}  // namespace kiln::nn
