// build_dataset_sharded: `mpirun -np N kiln preprocess`. Rank r decodes the r-th of N contiguous
// slices of the index into a shard file next to the output (OUTPUT.shard-r-of-N, itself a kiln
// dataset), and rank 0 merges the shards in order into OUTPUT: the images and labels copied as
// stored (no second decode), /skipped concatenated in input order, and the statistics from the
// ranks' exact integer sums (io::PixelStatistics). The result equals one process's preprocess of
// the same input. A merge rather than an HDF5 virtual dataset: the output is one self-contained
// file, like any other kiln dataset, that can be moved or copied without its shards, and the
// copy costs one sequential pass (docs/scaling.md has the figures).
// Errors: any rank's failure (--on-error fail, an unreadable slice) is made known to all; every
// rank removes its shard and the first failure in input order is thrown on every rank. No file is
// left, shards included.
#pragma once

#include <functional>

#include "nn/distributed/communicator.hpp"
#include "pipeline/dataset/dataset_builder.hpp"

namespace kiln::pipeline {

// Collective: every rank calls it with the same index and options. The summary (on every rank)
// is the whole dataset's.
BuildSummary build_dataset_sharded(
    const io::ImageIndex& index, const BuildOptions& options, nn::Communicator& ranks,
    const std::function<void(std::int64_t, std::int64_t)>& progress = {});

}  // namespace kiln::pipeline
