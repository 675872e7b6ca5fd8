#include "pipeline/dataset/sharded_build.hpp"

#include <filesystem>
#include <string>

#include "io/dataset_reader.hpp"
#include "io/dataset_writer.hpp"
#include "nn/distributed/record_exchange.hpp"
#include "nn/error.hpp"

namespace kiln::pipeline {
namespace {

std::string shard_path(const std::string& output, int rank, int ranks) {
  return output + ".shard-" + std::to_string(rank) + "-of-" + std::to_string(ranks);
}

// The slice [total·r/N, total·(r+1)/N) of the index; the index's own warnings go with rank 0,
// whose /skipped comes first, as in one process's file.
io::ImageIndex slice_of(const io::ImageIndex& index, int rank, int ranks) {
  const auto total = static_cast<std::int64_t>(index.paths.size());
  const std::int64_t lo = total * rank / ranks, hi = total * (rank + 1) / ranks;
  io::ImageIndex slice;
  slice.class_names = index.class_names;
  slice.task = index.task;
  if (!index.targets.empty()) {
    const auto width = static_cast<std::int64_t>(index.class_names.size());
    slice.targets.assign(index.targets.begin() + lo * width, index.targets.begin() + hi * width);
  }
  slice.paths.assign(index.paths.begin() + lo, index.paths.begin() + hi);
  slice.labels.assign(index.labels.begin() + lo, index.labels.begin() + hi);
  if (rank == 0) slice.warnings = index.warnings;
  return slice;
}

// What each rank tells the others once its slice is done: its error ("" when none), how many
// images it wrote, and its pixel sums.
struct ShardReport {
  std::string error;
  std::int64_t written = 0;
  std::vector<std::uint64_t> statistics;
};

// Rows [first, first + count) of a shard's targets (empty for classification).
std::span<const float> targets_of(const io::DatasetReader& shard, std::int64_t first,
                                  std::int64_t count) {
  if (shard.targets().empty()) return {};
  const auto width = static_cast<std::int64_t>(shard.class_names().size());
  return std::span(shard.targets())
      .subspan(static_cast<std::size_t>(first * width), static_cast<std::size_t>(count * width));
}

// Copies a shard's images, labels (or targets) and skipped inputs into `writer`, as stored.
void append_shard(const std::string& path, io::DatasetWriter& writer, std::int64_t block) {
  const io::DatasetReader shard(path);
  for (const io::SkippedInput& s : shard.skipped()) writer.record_skipped(s);
  const std::vector<std::int32_t>& labels = shard.labels();
  if (shard.ragged()) {
    for (std::int64_t i = 0; i < shard.size(); ++i) {
      const cv::Size size = shard.image_size(i);
      writer.append_ragged(shard.read_stored(i), size.height, size.width, {},
                           labels[static_cast<std::size_t>(i)],
                           io::DatasetWriter::Counting::kByCaller, targets_of(shard, i, 1));
    }
    return;
  }
  std::vector<std::uint8_t> images;
  for (std::int64_t first = 0; first < shard.size(); first += block) {
    const std::int64_t count = std::min(block, shard.size() - first);
    images.resize(static_cast<std::size_t>(count * shard.image_bytes()));
    shard.read_images(first, count, images);
    writer.append(
        images,
        std::span(labels).subspan(static_cast<std::size_t>(first), static_cast<std::size_t>(count)),
        io::DatasetWriter::Counting::kByCaller, targets_of(shard, first, count));
  }
}

}  // namespace

BuildSummary build_dataset_sharded(
    const io::ImageIndex& index, const BuildOptions& options, nn::Communicator& ranks,
    const std::function<void(std::int64_t, std::int64_t)>& progress) {
  const int rank = ranks.rank(), size = ranks.size();
  const std::string mine = shard_path(options.output_path, rank, size);
  BuildOptions shard_options = options;
  shard_options.output_path = mine;
  shard_options.require_images = false;
  ShardReport report;
  try {
    const BuildSummary built =
        build_dataset(slice_of(index, rank, size), shard_options, rank == 0 ? progress : nullptr);
    report.written = built.written;
    report.statistics = built.statistics->words();
  } catch (const Error& e) {
    report.error = e.what();
  }
  const std::vector<ShardReport> reports = nn::gather_in_rank_order(
      ranks, std::vector<ShardReport>{report}, "shard report",
      [](nn::RecordWriter& out, const ShardReport& r) {
        out.put_string(r.error);
        out.put(r.written);
        out.put_array(r.statistics);
      },
      [](nn::RecordReader& in) {
        ShardReport r;
        r.error = in.take_string();
        r.written = in.take<std::int64_t>();
        r.statistics = in.take_array<std::uint64_t>();
        return r;
      });
  const auto remove_shards = [&] {
    std::error_code ignored;
    for (int r = 0; r < size; ++r) {
      std::filesystem::remove(shard_path(options.output_path, r, size), ignored);
    }
  };
  std::int64_t written = 0;
  for (int r = 0; r < size; ++r) {
    const ShardReport& from = reports[static_cast<std::size_t>(r)];
    if (!from.error.empty()) {
      if (rank == 0) remove_shards();
      std::error_code ignored;
      std::filesystem::remove(mine, ignored);
      throw Error(from.error);
    }
    written += from.written;
  }
  const std::int64_t image_bytes = options.height * options.width * options.channels;
  io::PixelStatistics statistics(options.channels, image_bytes);
  for (const ShardReport& from : reports) {
    statistics.merge(
        io::PixelStatistics::from_words(options.channels, image_bytes, from.statistics));
  }
  BuildSummary summary;
  summary.written = written;
  if (written == 0) {
    if (rank == 0) remove_shards();
    throw Error(options.output_path + ": none of the " + std::to_string(index.paths.size()) +
                " inputs could be read; run kiln preprocess without mpirun to see each reason");
  }
  if (rank == 0) {
    try {
      io::DatasetWriter writer(options.output_path, dataset_spec(options, index));
      for (int r = 0; r < size; ++r) {
        append_shard(shard_path(options.output_path, r, size), writer, options.block);
      }
      writer.add_statistics(statistics);
      writer.commit();
    } catch (const Error&) {
      remove_shards();
      throw;
    }
    remove_shards();
    summary.skipped = io::DatasetReader(options.output_path).skipped();
  }
  summary.statistics = std::move(statistics);
  return summary;
}

}  // namespace kiln::pipeline
