#include "nn/distributed/batch_record.hpp"

#include "nn/distributed/record_exchange.hpp"

namespace kiln::nn {

std::vector<BatchRecord> gather_in_order(Communicator& ranks, std::vector<BatchRecord> mine) {
  return gather_in_rank_order(
      ranks, std::move(mine), "batch record",
      [](RecordWriter& out, const BatchRecord& r) {
        out.put(r.loss);
        out.put(r.samples);
        out.put(r.correct);
        out.put(r.correct_top5);
        out.put_array(r.statistics);
        out.put(r.absolute_error);
      },
      [](RecordReader& in) {
        BatchRecord r;
        r.loss = in.take<double>();
        r.samples = in.take<std::int64_t>();
        r.correct = in.take<std::int64_t>();
        r.correct_top5 = in.take<std::int64_t>();
        r.statistics = in.take_array<double>();
        r.absolute_error = in.take<double>();
        return r;
      });
}

}  // namespace kiln::nn
