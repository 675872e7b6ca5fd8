#include "pipeline/loader.hpp"

#include <algorithm>

#include "nn/error.hpp"
#include "pipeline/epoch_order.hpp"
#include "pipeline/graph.hpp"

namespace kiln::pipeline {

Loader::Loader(std::shared_ptr<const io::DatasetReader> reader, Normalization normalization,
               std::vector<std::unique_ptr<Stage>> stages, LoaderOptions options)
    : reader_(std::move(reader)),
      normalization_(std::move(normalization)),
      stages_(std::move(stages)),
      options_(options),
      pool_(std::make_shared<TensorPool>(static_cast<std::size_t>(options.prefetch_batches) + 2)) {
  if (options_.batch_size < 1) {
    throw Error("batch size must be >= 1, got " + std::to_string(options_.batch_size));
  }
  if (options_.prefetch_batches < 1) {
    throw Error("prefetch must be >= 1 batch, got " + std::to_string(options_.prefetch_batches));
  }
  if (options_.limit < 0) throw Error("limit must be >= 0, got " + std::to_string(options_.limit));
  for (const std::uint64_t index : options_.subset) {
    if (index >= static_cast<std::uint64_t>(reader_->size())) {
      throw Error(reader_->path() + ": subset index " + std::to_string(index) + " is past the " +
                  std::to_string(reader_->size()) + " samples");
    }
  }
  if (planned()) plan().check();
  if (options_.views) {
    if (options_.mode != nn::Mode::kEval) throw Error("views are for evaluation only");
    check_view_options(*options_.views);
  }
  normalization_.check_compatible(reader_->channels(), reader_->channel_order(), reader_->path());
  const cv::Size packed = sample_size();
  normalization_.check_image_size(packed.height, packed.width, reader_->channels(),
                                  reader_->path());
  const bool sized = std::any_of(stages_.begin(), stages_.end(),
                                 [](const auto& stage) { return stage->changes_size(); });
  if (reader_->ragged() && !sized && !options_.views) {
    throw Error(reader_->path() +
                ": its images have different sizes; add a crop stage (scale_crop or "
                "random_resized_crop) so that every batch has one size");
  }
}

Loader::~Loader() = default;

nn::Shape Loader::sample_shape() const {
  const cv::Size size = sample_size();
  return {1, reader_->channels(), size.height, size.width};
}

cv::Size Loader::sample_size() const {
  if (options_.views) return options_.views->crop;
  if (!reader_->ragged()) {
    cv::Size size(static_cast<int>(reader_->width()), static_cast<int>(reader_->height()));
    for (const auto& stage : stages_) size = stage->output_size(size);
    return size;
  }
  // Images of many sizes: the last stage that sets a size decides (crops set theirs whatever
  // the input); checked in the constructor that there is one.
  cv::Size size;
  for (const auto& stage : stages_) {
    if (stage->changes_size()) size = stage->output_size(reader_->image_size(0));
  }
  return size;
}

std::int64_t Loader::num_samples() const {
  const std::int64_t available =
      options_.subset.empty() ? reader_->size() : static_cast<std::int64_t>(options_.subset.size());
  return options_.limit > 0 ? std::min(options_.limit, available) : available;
}

void Loader::start_epoch(std::uint64_t epoch) { start_epoch_at(epoch, 0); }

void Loader::start_epoch_at(std::uint64_t epoch, std::int64_t first_batch) {
  graph_.reset();  // abandons (cancels) what is left of the previous epoch
  EpochSpec spec;
  spec.reader = reader_.get();
  spec.stages = &stages_;
  spec.normalization = &normalization_;
  spec.mode = options_.mode;
  spec.seed = options_.seed;
  spec.epoch = epoch;
  epoch_ = epoch;
  const bool shuffle = options_.shuffle && options_.mode == nn::Mode::kTrain;
  if (options_.balanced && options_.mode == nn::Mode::kTrain) {
    std::vector<std::int32_t> labels;  // of the rows this loader visits, by position
    for (std::int64_t p = 0; p < num_samples(); ++p) {
      const auto row = options_.subset.empty() ? static_cast<std::uint64_t>(p)
                                               : options_.subset[static_cast<std::size_t>(p)];
      labels.push_back(reader_->labels()[row]);
    }
    spec.order = balanced_order(labels, reader_->class_names(), options_.seed, epoch);
  } else {
    spec.order =
        epoch_order(static_cast<std::uint64_t>(num_samples()), options_.seed, epoch, shuffle);
  }
  if (!options_.subset.empty()) {
    for (std::uint64_t& position : spec.order) position = options_.subset[position];
  }
  spec.batch_size = options_.batch_size;
  spec.drop_last = options_.drop_last;
  if (planned()) {
    // This rank's micro-batches, one after another: runs of the micro-batch size again.
    const nn::StepPlan p = plan();
    std::vector<std::uint64_t> mine;
    for (const std::uint64_t position : p.positions(first_batch)) {
      mine.push_back(spec.order[position]);
    }
    spec.order = std::move(mine);
    spec.batch_size = p.micro_batch_size;
    spec.drop_last = false;  // the plan has dropped what drop_last drops
  } else {
    // Batches are consecutive runs of the order, so batch k starts at position k * batch_size.
    const auto skipped = static_cast<std::size_t>(std::clamp<std::int64_t>(
        first_batch * options_.batch_size, 0, static_cast<std::int64_t>(spec.order.size())));
    spec.order.erase(spec.order.begin(), spec.order.begin() + static_cast<std::ptrdiff_t>(skipped));
  }
  spec.max_in_flight = max_in_flight();
  spec.threads = options_.threads;
  spec.sample_size = sample_size();
  spec.views = options_.views ? &*options_.views : nullptr;
  spec.pool = pool_.get();
  graph_ = std::make_unique<EpochGraph>(std::move(spec));
}

bool Loader::next(nn::Batch& batch) {
  if (!graph_) throw Error("Loader::next() called before start_epoch()");
  if (batch.inputs.size() > 0) pool_->give(std::move(batch.inputs));  // the caller is done with it
  BatchItem item = graph_->next();
  if (!item.error.empty()) throw Error(item.error);
  if (item.end) return false;
  batch = std::move(item.batch);
  if (reader_->task() != nn::Task::kClassification) {
    // The rows' target values, by dataset index (views of one image share its row).
    const auto width = static_cast<std::int64_t>(reader_->class_names().size());
    batch.targets.resize({batch.size(), width, 1, 1});
    for (std::int64_t r = 0; r < batch.size(); ++r) {
      const auto row = reader_->target_row(
          static_cast<std::int64_t>(batch.indices[static_cast<std::size_t>(r)]));
      std::copy(row.begin(), row.end(), batch.targets.data() + r * width);
    }
  }
  if (options_.mixing && options_.mode == nn::Mode::kTrain) {
    options_.mixing->apply(batch, options_.seed, epoch_,
                           static_cast<std::int64_t>(reader_->class_names().size()));
  }
  return true;
}

bool Loader::planned() const {
  return options_.ranks > 1 ||
         (options_.micro_batch_size > 0 && options_.micro_batch_size != options_.batch_size);
}

nn::StepPlan Loader::plan() const {
  nn::StepPlan p;
  p.samples = num_samples();
  p.rank = options_.rank;
  p.ranks = options_.ranks;
  if (options_.mode == nn::Mode::kTrain) {
    p.batch_size = options_.batch_size;
    p.micro_batch_size =
        options_.micro_batch_size > 0 ? options_.micro_batch_size : options_.batch_size;
    p.drop_last = options_.drop_last;
  } else {
    p.batch_size = options_.batch_size * options_.ranks;
    p.micro_batch_size = options_.batch_size;
  }
  return p;
}

std::int64_t Loader::peak_in_flight() const { return graph_ ? graph_->peak_in_flight() : 0; }

}  // namespace kiln::pipeline
