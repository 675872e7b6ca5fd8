#include "pipeline/graph.hpp"

#include <tbb/flow_graph.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <optional>

#include "nn/error.hpp"
#include "nn/tsan.hpp"
#include "pipeline/pack.hpp"
#include "pipeline/sample.hpp"

namespace kiln::pipeline {

using SamplePtr = std::shared_ptr<Sample>;
namespace flow = tbb::flow;

namespace {
// Runs one stage's work on a sample that has not failed yet. An exception becomes the sample's
// error: thrown out of a graph body it would cancel the whole graph (and lose the message).
template <class Work>
// Each node hands its sample to the next through oneTBB's queues, which ThreadSanitizer cannot
// see into (nn/tsan.hpp): the sample is acquired on entry and released on the way out.
SamplePtr guarded(SamplePtr s, Work&& work) {
  tsan::acquire(s.get());
  if (s->error.empty()) {
    try {
      work(*s);
    } catch (const std::exception& e) {
      s->error = e.what();
    }
  }
  tsan::release(s.get());
  return s;
}
}  // namespace

struct EpochGraph::Impl {
  EpochSpec spec;
  tbb::task_arena arena;  // concurrency from spec.threads
  std::unique_ptr<flow::graph> graph;

  // Batch tensors being filled: the pack node writes each sample's rows straight into its
  // batch, so no sample-sized buffer is filled and copied again. Batch b lives in slot b % K:
  // positions in flight lie within max_in_flight <= K * batch_size of the oldest batch not yet
  // handed to the consumer, so no two batches in flight share a slot. The first sample of a
  // batch makes its tensor (double-checked, so later samples take no lock); tensors exist only
  // for batches with samples in flight, as many as the limiter allows.
  struct OpenBatch {
    static constexpr std::uint64_t kNone = ~std::uint64_t{0};
    std::atomic<std::uint64_t> batch{kNone};
    std::mutex mutex;
    nn::Tensor tensor;
  };
  std::unique_ptr<OpenBatch[]> open;
  std::size_t open_slots = 0;

  // Batcher state: touched only by the serial batcher node.
  nn::Batch pending;  // labels and indices; the inputs come from `open` when it is complete
  std::uint64_t received = 0;
  bool failed = false;
  std::int64_t rows_per_sample = 1;  // the views of one sample
  std::size_t first_folded = 0;      // stages from here on are tables, applied by the pack step

  // Hand-off to the consumer.
  std::mutex mutex;
  std::deque<BatchItem> ready;
  std::atomic<std::int64_t> in_flight{0};
  std::atomic<std::int64_t> peak{0};

  std::unique_ptr<flow::input_node<std::uint64_t>> input;
  std::unique_ptr<flow::limiter_node<std::uint64_t, std::int64_t>> limiter;
  std::unique_ptr<flow::function_node<std::uint64_t, SamplePtr>> read;
  std::unique_ptr<flow::function_node<SamplePtr, SamplePtr>> augment;
  std::unique_ptr<flow::function_node<SamplePtr, SamplePtr>> pack;
  std::unique_ptr<flow::sequencer_node<SamplePtr>> sequencer;
  std::unique_ptr<flow::function_node<SamplePtr, flow::continue_msg>> batcher;

  // The node bodies, one job each (defined below, in the order samples meet them).
  struct NextPosition;
  struct ReadSample;
  struct AugmentSample;
  struct PackSample;
  struct AssembleBatch;

  explicit Impl(EpochSpec s)
      : spec(std::move(s)), arena(spec.threads > 0 ? spec.threads : tbb::task_arena::automatic) {}
  void build();
  void count_admitted();
  void push(BatchItem item) {
    std::lock_guard lock(mutex);
    ready.push_back(std::move(item));
  }
  float* rows_of(std::uint64_t position);
  nn::Tensor close(std::uint64_t batch);
  void add_to_batch(const Sample& sample);
};

// The first of the sample's rows in its batch's tensor.
float* EpochGraph::Impl::rows_of(std::uint64_t position) {
  const auto samples_per_batch = static_cast<std::uint64_t>(spec.batch_size);
  const std::uint64_t batch = position / samples_per_batch;
  OpenBatch& slot = open[batch % open_slots];
  if (slot.batch.load(std::memory_order_acquire) != batch) {
    std::lock_guard lock(slot.mutex);
    if (slot.batch.load(std::memory_order_relaxed) != batch) {
      if (spec.pool != nullptr) slot.tensor = spec.pool->take();
      slot.tensor.resize({spec.batch_size * rows_per_sample, spec.reader->channels(),
                          spec.sample_size.height, spec.sample_size.width});
      slot.batch.store(batch, std::memory_order_release);
    }
  }
  const std::size_t floats_per_row = static_cast<std::size_t>(spec.sample_size.area()) *
                                     static_cast<std::size_t>(spec.reader->channels());
  const std::size_t row =
      (position % samples_per_batch) * static_cast<std::size_t>(rows_per_sample);
  return slot.tensor.data() + row * floats_per_row;
}

// Called by the batcher once every sample of `batch` has passed it.
nn::Tensor EpochGraph::Impl::close(std::uint64_t batch) {
  OpenBatch& slot = open[batch % open_slots];
  std::lock_guard lock(slot.mutex);
  slot.batch.store(OpenBatch::kNone, std::memory_order_relaxed);
  return std::move(slot.tensor);
}

void EpochGraph::Impl::add_to_batch(const Sample& sample) {
  for (std::int64_t v = 0; v < rows_per_sample; ++v) {
    pending.labels.push_back(sample.label);
    pending.indices.push_back(sample.index);
  }
}

// Positions of the epoch, in order. input_node runs its body serially, so a plain counter is safe.
struct EpochGraph::Impl::NextPosition {
  std::uint64_t next = 0, total = 0;
  std::uint64_t operator()(tbb::flow_control& control) {
    if (next == total) {
      control.stop();
      return 0;
    }
    return next++;
  }
};

// Counted past the limiter: this is what the limiter bounds.
void EpochGraph::Impl::count_admitted() {
  const std::int64_t now = ++in_flight;
  std::int64_t seen = peak.load();
  while (now > seen && !peak.compare_exchange_weak(seen, now)) {
  }
}

// Stored pixels, or an encoded image decoded here, in parallel. When the first stage is a crop,
// only its window is read: it is drawn here, from the same key as in the augment node, and a JPEG
// decodes just the part the crop keeps.
struct EpochGraph::Impl::ReadSample {
  Impl& im;
  SamplePtr operator()(std::uint64_t position) const {
    tsan::acquire(&im);  // the graph and its spec, built before the first task was spawned
    im.count_admitted();
    auto s = std::make_shared<Sample>();
    s->position = position;
    s->index = im.spec.order[position];
    return guarded(std::move(s), [this](Sample& sample) { read(sample); });
  }
  void read(Sample& sample) const {
    const EpochSpec& spec = im.spec;
    const io::DatasetReader& r = *spec.reader;
    const auto index = static_cast<std::int64_t>(sample.index);
    sample.label = r.labels()[sample.index];
    const Stage* crop = spec.stages->empty() ? nullptr : spec.stages->front().get();
    const cv::Size size = crop != nullptr ? r.image_size(index) : cv::Size();
    const std::optional<cv::Rect> window =
        crop != nullptr
            ? crop->source_window(size, spec.mode, {spec.seed, spec.epoch, sample.index, 1})
            : std::nullopt;
    if (window) {
      cv::Rect2d area;
      sample.image = r.read_window(index, *window, crop->output_size(size), &area);
      crop->finish_window(sample.image, area);
      sample.stages_done = 1;
    } else {
      sample.image = r.read_mat(index);
    }
  }
};

// Stage j (1-based) of the list draws from Rng{seed, epoch, index, j}. Trailing table stages are
// not run here: their tables are composed and handed to the pack step.
struct EpochGraph::Impl::AugmentSample {
  Impl& im;
  SamplePtr operator()(SamplePtr s) const {
    return guarded(std::move(s), [this](Sample& sample) { augment(sample); });
  }
  void augment(Sample& sample) const {
    const EpochSpec& spec = im.spec;
    const auto& stages = *spec.stages;
    for (std::size_t j = sample.stages_done; j < stages.size(); ++j) {
      const auto slot = static_cast<std::uint32_t>(j + 1);
      const nn::SeedKey key{spec.seed, spec.epoch, sample.index, slot};
      if (j < im.first_folded) {
        stages[j]->run(sample.image, spec.mode, key);
      } else {
        const ChannelTable t =
            stages[j]->table(sample.image.size(), sample.image.channels(), spec.mode, key);
        sample.table = sample.table ? sample.table->then(t) : t;
      }
    }
    if (spec.views != nullptr) {
      make_views(sample.image, *spec.views, sample.views);
      sample.image.release();
    }
  }
};

// Normalizes each view straight into its rows of the batch tensor (one fused pass).
struct EpochGraph::Impl::PackSample {
  Impl& im;
  SamplePtr operator()(SamplePtr s) const {
    return guarded(std::move(s), [this](Sample& sample) { pack(sample); });
  }
  void pack(Sample& sample) const {
    const EpochSpec& spec = im.spec;
    if (sample.views.empty()) sample.views.push_back(std::move(sample.image));
    const std::size_t per_view = static_cast<std::size_t>(spec.sample_size.area()) *
                                 static_cast<std::size_t>(spec.normalization->mean.size());
    // Checked before rows_of() makes a batch tensor for it.
    for (const cv::Mat& view : sample.views) {
      if (view.size() != spec.sample_size) {
        throw Error("the stages produced a " + std::to_string(view.cols) + "x" +
                    std::to_string(view.rows) + " image where " +
                    std::to_string(spec.sample_size.width) + "x" +
                    std::to_string(spec.sample_size.height) +
                    " was announced; batches need every sample at the same size");
      }
    }
    float* rows = im.rows_of(sample.position);
    for (std::size_t v = 0; v < sample.views.size(); ++v) {
      cv::Mat& view = sample.views[v];
      if (!view.isContinuous()) view = view.clone();
      pack_image(view, *spec.normalization, std::span<float>(rows + v * per_view, per_view),
                 sample.table ? &*sample.table : nullptr);
    }
    sample.views.clear();
  }
};

// Serial, after the sequencer: assembles batches in order and hands them over. Never blocks (the
// limiter bounds how much can pile up in `ready`). The first failed sample ends the epoch with its
// message.
struct EpochGraph::Impl::AssembleBatch {
  Impl& im;
  flow::continue_msg operator()(const SamplePtr& s) const {
    // flow::serial orders the invocations inside libtbb; TSan is told so (nn/tsan.hpp).
    tsan::acquire(s.get());
    tsan::acquire(&im.received);
    assemble(s);
    tsan::release(&im.received);
    return {};
  }
  void assemble(const SamplePtr& s) const {
    ++im.received;
    if (im.failed) return;
    if (!s->error.empty()) {
      im.failed = true;
      im.push({{},
               false,
               im.spec.reader->path() + ": sample " + std::to_string(s->index) + ": " + s->error});
      return;
    }
    im.add_to_batch(*s);
    const bool last = im.received == im.spec.order.size();
    const bool full = static_cast<std::int64_t>(im.pending.labels.size()) ==
                      im.spec.batch_size * im.rows_per_sample;
    if (full || last) hand_over(s->position, full);
    if (last) im.push({{}, true, {}});
    return;
  }
  void hand_over(std::uint64_t position, bool full) const {
    nn::Tensor inputs = im.close(position / static_cast<std::uint64_t>(im.spec.batch_size));
    if (full || !im.spec.drop_last) {
      const auto rows = static_cast<std::int64_t>(im.pending.labels.size());
      inputs.resize(inputs.shape().with_n(rows));
      im.pending.inputs = std::move(inputs);
      im.push({std::move(im.pending), false, {}});
    } else if (im.spec.pool != nullptr) {
      im.spec.pool->give(std::move(inputs));
    }
    im.pending = {};
  }
};

void EpochGraph::Impl::build() {
  graph = std::make_unique<flow::graph>();
  flow::graph& g = *graph;
  const auto in_flight_limit = static_cast<std::size_t>(spec.max_in_flight);
  input = std::make_unique<flow::input_node<std::uint64_t>>(g, NextPosition{0, spec.order.size()});
  limiter = std::make_unique<flow::limiter_node<std::uint64_t, std::int64_t>>(g, in_flight_limit);
  read = std::make_unique<flow::function_node<std::uint64_t, SamplePtr>>(g, flow::unlimited,
                                                                         ReadSample{*this});
  augment = std::make_unique<flow::function_node<SamplePtr, SamplePtr>>(g, flow::unlimited,
                                                                        AugmentSample{*this});
  pack = std::make_unique<flow::function_node<SamplePtr, SamplePtr>>(g, flow::unlimited,
                                                                     PackSample{*this});
  sequencer = std::make_unique<flow::sequencer_node<SamplePtr>>(g, [](const SamplePtr& s) {
    tsan::acquire(s.get());
    return static_cast<std::size_t>(s->position);
  });
  batcher = std::make_unique<flow::function_node<SamplePtr, flow::continue_msg>>(
      g, flow::serial, AssembleBatch{*this});

  flow::make_edge(*input, *limiter);
  flow::make_edge(*limiter, *read);
  flow::make_edge(*read, *augment);
  flow::make_edge(*augment, *pack);
  flow::make_edge(*pack, *sequencer);
  flow::make_edge(*sequencer, *batcher);
}

EpochGraph::EpochGraph(EpochSpec spec) : impl_(std::make_unique<Impl>(std::move(spec))) {
  Impl& im = *impl_;
  if (im.spec.batch_size < 1) throw Error("batch size must be >= 1");
  im.spec.max_in_flight = std::max(im.spec.max_in_flight, im.spec.batch_size);
  const auto& stages = *im.spec.stages;
  im.first_folded = stages.size();
  while (im.first_folded > 0 && stages[im.first_folded - 1]->is_table()) --im.first_folded;
  if (im.spec.views != nullptr) {
    if (im.spec.mode != nn::Mode::kEval) throw Error("views are for evaluation only");
    im.rows_per_sample = im.spec.views->views_per_image();
  }
  im.open_slots = static_cast<std::size_t>((im.spec.max_in_flight + im.spec.batch_size - 1) /
                                           im.spec.batch_size);
  im.open = std::make_unique<Impl::OpenBatch[]>(im.open_slots);
  im.arena.execute([&] {
    im.build();
    if (im.spec.order.empty()) {
      im.push({{}, true, {}});
    } else {
      tsan::release(&im);
      im.input->activate();
    }
  });
}

EpochGraph::~EpochGraph() {
  Impl& im = *impl_;
  im.arena.execute([&] {
    im.graph->cancel();
    im.graph->wait_for_all();
  });
}

BatchItem EpochGraph::next() {
  Impl& im = *impl_;
  for (int attempt = 0; attempt < 2; ++attempt) {
    {
      std::lock_guard lock(im.mutex);
      if (!im.ready.empty()) {
        BatchItem item = std::move(im.ready.front());
        im.ready.pop_front();
        // The consumer owns these samples now: free their slots so the graph refills.
        if (const std::int64_t samples = item.batch.size() / im.rows_per_sample; samples > 0) {
          im.in_flight -= samples;
          im.arena.execute([&] { im.limiter->decrementer().try_put(samples); });
        }
        return item;
      }
    }
    // Nothing ready: help run the graph until it is idle. Idle means the limiter is full or the
    // epoch is done; either way a batch (or the end) is then ready, since max_in_flight >= batch.
    im.arena.execute([&] { im.graph->wait_for_all(); });
  }
  throw Error("internal error: the pipeline went idle without producing a batch");
}

void TensorPool::give(nn::Tensor tensor) {
  std::lock_guard lock(mutex_);
  if (spare_.size() < capacity_) spare_.push_back(std::move(tensor));
}

nn::Tensor TensorPool::take() {
  std::lock_guard lock(mutex_);
  if (spare_.empty()) return {};
  nn::Tensor tensor = std::move(spare_.back());
  spare_.pop_back();
  return tensor;
}

std::int64_t EpochGraph::peak_in_flight() const { return impl_->peak.load(); }

}  // namespace kiln::pipeline
