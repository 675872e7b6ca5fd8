#include "nn/batch_record.hpp"

#include <cstring>

#include "nn/error.hpp"

namespace kiln::nn {
namespace {

template <typename T>
void put(std::vector<std::uint8_t>& out, const T& value) {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(&value);
  out.insert(out.end(), bytes, bytes + sizeof(T));
}

template <typename T>
T take(const std::vector<std::uint8_t>& in, std::size_t& at) {
  if (at + sizeof(T) > in.size()) throw Error("a rank sent a truncated batch record");
  T value;
  std::memcpy(&value, in.data() + at, sizeof(T));
  at += sizeof(T);
  return value;
}

std::vector<std::uint8_t> pack(const std::vector<BatchRecord>& records) {
  std::vector<std::uint8_t> out;
  put(out, static_cast<std::uint64_t>(records.size()));
  for (const BatchRecord& r : records) {
    put(out, r.loss);
    put(out, r.samples);
    put(out, r.correct);
    put(out, r.correct_top5);
    put(out, static_cast<std::uint64_t>(r.statistics.size()));
    for (const double s : r.statistics) put(out, s);
  }
  return out;
}

std::vector<BatchRecord> unpack(const std::vector<std::uint8_t>& in) {
  std::size_t at = 0;
  std::vector<BatchRecord> records(take<std::uint64_t>(in, at));
  for (BatchRecord& r : records) {
    r.loss = take<double>(in, at);
    r.samples = take<std::int64_t>(in, at);
    r.correct = take<std::int64_t>(in, at);
    r.correct_top5 = take<std::int64_t>(in, at);
    r.statistics.resize(take<std::uint64_t>(in, at));
    for (double& s : r.statistics) s = take<double>(in, at);
  }
  return records;
}

}  // namespace

std::vector<BatchRecord> gather_in_order(Communicator& ranks, std::vector<BatchRecord> mine) {
  if (ranks.size() == 1) return mine;
  const std::vector<std::vector<std::uint8_t>> all = ranks.all_gather_bytes(pack(mine));
  std::vector<std::vector<BatchRecord>> by_rank;
  std::size_t total = 0;
  for (const auto& bytes : all) {
    by_rank.push_back(unpack(bytes));
    total += by_rank.back().size();
  }
  std::vector<BatchRecord> ordered;
  ordered.reserve(total);
  for (std::size_t j = 0; ordered.size() < total; ++j) {
    for (auto& records : by_rank) {
      if (j < records.size()) ordered.push_back(std::move(records[j]));
    }
  }
  return ordered;
}

}  // namespace kiln::nn
