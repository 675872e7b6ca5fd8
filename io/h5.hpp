// A thin RAII layer over the HDF5 C API: files, groups, datasets, attributes.
// io/h5.cpp is the only file that includes <hdf5.h>. Every failure throws kiln::Error naming the
// file and the object ("train.h5: /images: ..."); HDF5's own stack printing is switched off.
// THREAD SAFETY: Debian's libhdf5 is built thread-safe (one global lock), so objects may be used
// from several threads; calls are serialized inside the library.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kiln::io::h5 {

using Id = std::int64_t;  // hid_t

enum class Type { kU8, kI32, kI64, kF32, kF64 };

// Call first thing in a program: HDF5 then installs no exit handler. HDF5 1.10's handler closes
// files still open at exit, and crashes on one whose final flush failed (a full disk, a file-size
// limit) after kiln has reported the error and removed the temporary file. kiln closes every file
// it opens before it exits, so the handler has nothing else to do.
void skip_library_cleanup_at_exit();

class Dataset;
class Group;

// Any HDF5 object that owns an id and can carry attributes.
class Object {
 public:
  enum class Kind { kFile, kGroup, kDataset };
  Object() = default;
  Object(Kind kind, Id id, std::shared_ptr<const std::string> file, std::string name);
  ~Object();
  Object(Object&& other) noexcept;
  Object& operator=(Object&& other) noexcept;
  Object(const Object&) = delete;
  Object& operator=(const Object&) = delete;

  Id id() const { return id_; }
  const std::string& file() const { return *file_; }
  const std::string& name() const { return name_; }
  std::string where() const { return *file_ + ": " + name_; }  // for error messages

  bool has_attribute(const std::string& key) const;
  void set_attribute(const std::string& key, const std::string& value);
  void set_attribute(const std::string& key, std::int64_t value);
  void set_attribute(const std::string& key, double value);
  void set_attribute(const std::string& key, const std::vector<std::string>& values);
  std::string string_attribute(const std::string& key) const;
  std::int64_t int_attribute(const std::string& key) const;
  double double_attribute(const std::string& key) const;
  std::vector<std::string> strings_attribute(const std::string& key) const;

 protected:
  void close_handle() noexcept;

  Kind kind_ = Kind::kGroup;
  Id id_ = -1;
  std::shared_ptr<const std::string> file_ = std::make_shared<const std::string>();
  std::string name_;
};

struct DatasetOptions {
  bool extendible = false;           // first dimension unlimited (append rows)
  std::vector<std::uint64_t> chunk;  // chunk dims; required when extendible or compressed
  int gzip_level = 0;                // 0: uncompressed
  // Fletcher-32 per chunk (needs chunks): a damaged chunk fails its read instead of returning
  // altered values.
  bool checksum = false;
};

// A file or a group: a place that holds groups and datasets.
class Location : public Object {
 public:
  using Object::Object;
  bool exists(const std::string& path) const;
  std::vector<std::string> child_names() const;  // members of this group, by name
  void remove(const std::string& name);          // unlinks a member (a no-op when there is none)
  Group create_group(const std::string& name);
  Group open_group(const std::string& name) const;
  Dataset create_dataset(const std::string& name, Type type, const std::vector<std::uint64_t>& dims,
                         const DatasetOptions& options = {});
  Dataset open_dataset(const std::string& name) const;
  // With an explicit chunk cache size in bytes. 0 makes uncompressed reads go straight to the file
  // for just the selected bytes, the right choice for random access to single rows.
  Dataset open_dataset(const std::string& name, std::size_t chunk_cache_bytes) const;
  // One-dimensional dataset of variable-length UTF-8 strings (h5py reads them as str/bytes).
  void write_strings(const std::string& name, const std::vector<std::string>& values);
  std::vector<std::string> read_strings(const std::string& name) const;
};

class Group : public Location {
 public:
  using Location::Location;
};

class File : public Location {
 public:
  // `shown_as` (default: path) is the name errors give the file: the target, when `path` is the
  // temporary an AtomicFile writes first, which the user never sees.
  static File create(const std::string& path, const std::string& shown_as = "");  // truncates
  static File open_read(const std::string& path);  // read-only; clear error when not HDF5
  // read-write, for adding to a file
  static File open_write(const std::string& path, const std::string& shown_as = "");
  // Flushes and closes now, reporting failures (the destructor cannot).
  void close();

 private:
  using Location::Location;
};

class Dataset : public Object {
 public:
  using Object::Object;

  std::vector<std::uint64_t> dims() const;
  // Whether the stored element type is `type` (class, size and signedness).
  bool has_type(Type type) const;
  // Whether the data passes through filters (compression, checksums) on its way to disk.
  bool is_filtered() const;
  bool has_checksum() const;  // Fletcher-32 on every chunk

  // Whole-dataset transfer; the buffer holds product(dims) elements of `type`.
  void write(const void* data, Type type);
  void read(void* data, Type type) const;
  // Rows [row, row + count) along the first dimension (all of the other dimensions).
  void write_rows(std::uint64_t row, std::uint64_t count, const void* data, Type type);
  void read_rows(std::uint64_t row, std::uint64_t count, void* data, Type type) const;
  // Grows the first dimension to `rows` (extendible datasets only).
  void resize_rows(std::uint64_t rows);

 private:
  void check_read(int status, const std::string& what) const;  // status: an herr_t
};

}  // namespace kiln::io::h5
