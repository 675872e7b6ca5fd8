// Small records exchanged between ranks (Communicator::all_gather_bytes): a writer and a reader of
// trivially copyable values, arrays and strings in one agreed order, and the gather that puts
// every rank's records back in the round-robin order work was dealt in (nn/distributed/step_plan.hpp: rank r
// takes items r, r + N, ...). The reader checks each length against the bytes that arrived, so a
// truncated record is an error naming `what`, never a read past the end.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "nn/distributed/communicator.hpp"
#include "nn/error.hpp"

namespace kiln::nn {

class RecordWriter {
 public:
  template <typename T>
  void put(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    append(&value, sizeof(T));
  }
  // The count, then the values.
  template <typename T>
  void put_array(std::span<const T> values) {
    static_assert(std::is_trivially_copyable_v<T>);
    put(static_cast<std::uint64_t>(values.size()));
    append(values.data(), values.size_bytes());
  }
  template <typename T>
  void put_array(const std::vector<T>& values) {
    put_array(std::span<const T>(values));
  }
  void put_string(const std::string& text) {
    put_array(std::span<const char>(text.data(), text.size()));
  }
  const std::vector<std::uint8_t>& bytes() const { return bytes_; }

 private:
  void append(const void* data, std::size_t size) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    bytes_.insert(bytes_.end(), p, p + size);
  }
  std::vector<std::uint8_t> bytes_;
};

class RecordReader {
 public:
  // `what` names the record in errors: "a rank sent a truncated <what>".
  RecordReader(std::span<const std::uint8_t> bytes, std::string what)
      : bytes_(bytes), what_(std::move(what)) {}

  template <typename T>
  T take() {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    copy(&value, sizeof(T));
    return value;
  }
  template <typename T>
  std::vector<T> take_array() {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto count = take<std::uint64_t>();
    if (count > (bytes_.size() - at_) / sizeof(T)) truncated();
    std::vector<T> values(count);
    copy(values.data(), count * sizeof(T));
    return values;
  }
  std::string take_string() {
    const std::vector<char> text = take_array<char>();
    return {text.begin(), text.end()};
  }
  // A count of items that each take at least one byte: more than the bytes left is a lie.
  std::size_t take_count() {
    const auto count = take<std::uint64_t>();
    if (count > bytes_.size() - at_) truncated();
    return count;
  }

 private:
  void copy(void* out, std::size_t size) {
    if (size > bytes_.size() - at_) truncated();
    if (size > 0) std::memcpy(out, bytes_.data() + at_, size);  // out is null for empty arrays
    at_ += size;
  }
  [[noreturn]] void truncated() const { throw Error("a rank sent a truncated " + what_); }

  std::span<const std::uint8_t> bytes_;
  std::size_t at_ = 0;
  std::string what_;
};

// Every rank's records, in global order: rank r's j-th record is number j·ranks + r. One rank:
// `mine` itself. write(RecordWriter&, const Record&) and read(RecordReader&) -> Record must agree.
template <typename Record, typename Write, typename Read>
std::vector<Record> gather_in_rank_order(Communicator& ranks, std::vector<Record> mine,
                                         const std::string& what, Write write, Read read) {
  if (ranks.size() == 1) return mine;
  RecordWriter out;
  out.put(static_cast<std::uint64_t>(mine.size()));
  for (const Record& record : mine) write(out, record);
  std::vector<std::vector<Record>> by_rank;
  std::size_t total = 0;
  for (const std::vector<std::uint8_t>& bytes : ranks.all_gather_bytes(out.bytes())) {
    RecordReader in(bytes, what);
    std::vector<Record>& records = by_rank.emplace_back();
    for (std::size_t n = in.take_count(); records.size() < n;) records.push_back(read(in));
    total += records.size();
  }
  std::vector<Record> ordered;
  ordered.reserve(total);
  for (std::size_t j = 0; ordered.size() < total; ++j) {
    for (std::vector<Record>& records : by_rank) {
      if (j < records.size()) ordered.push_back(std::move(records[j]));
    }
  }
  return ordered;
}

}  // namespace kiln::nn
