#include "io/h5.hpp"

#include <hdf5.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "nn/error.hpp"

namespace kiln::io::h5 {
static_assert(std::is_same_v<hid_t, Id>, "h5::Id must be hid_t");

void skip_library_cleanup_at_exit() { H5dont_atexit(); }

namespace {

// HDF5 prints its error stack to stderr by default; kiln reports errors itself, in one line.
// Debian's HDF5 is built thread-safe, and there the printing is switched per thread: a chunk read
// on a pipeline worker would print a 57-line stack before kiln's message. So every entry point
// below switches it off for the thread it runs on, once per thread.
struct SilenceHdf5 {
  SilenceHdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }
};
void silence() { thread_local const SilenceHdf5 once; }

// Owns a short-lived id (dataspace, datatype, property list, attribute).
class Temp {
 public:
  Temp(hid_t id, herr_t (*closer)(hid_t)) : id_(id), closer_(closer) {}
  ~Temp() {
    if (id_ >= 0) closer_(id_);
  }
  Temp(Temp&& other) noexcept : id_(other.id_), closer_(other.closer_) { other.id_ = -1; }
  Temp(const Temp&) = delete;
  Temp& operator=(const Temp&) = delete;
  Temp& operator=(Temp&&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*closer_)(hid_t);
};

hid_t native(Type type) {
  switch (type) {
    case Type::kU8:
      return H5T_NATIVE_UINT8;
    case Type::kI32:
      return H5T_NATIVE_INT32;
    case Type::kI64:
      return H5T_NATIVE_INT64;
    case Type::kF32:
      return H5T_NATIVE_FLOAT;
    case Type::kF64:
      return H5T_NATIVE_DOUBLE;
  }
  return -1;
}

// Little-endian on disk whatever the host, so files move between machines.
hid_t stored(Type type) {
  switch (type) {
    case Type::kU8:
      return H5T_STD_U8LE;
    case Type::kI32:
      return H5T_STD_I32LE;
    case Type::kI64:
      return H5T_STD_I64LE;
    case Type::kF32:
      return H5T_IEEE_F32LE;
    case Type::kF64:
      return H5T_IEEE_F64LE;
  }
  return -1;
}

// kiln writes strings fixed-length (UTF-8, NUL-padded to the longest), never variable-length:
// those live in HDF5's global heap, whose object sizes libhdf5 1.10 trusts, so one damaged byte
// there crashed every reader (kiln, h5py, h5dump alike). Variable-length strings from other tools
// and older kiln files are still read.
Temp fixed_string_type(std::size_t longest) {
  Temp t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(t.get(), std::max<std::size_t>(longest, 1));
  H5Tset_strpad(t.get(), H5T_STR_NULLPAD);
  H5Tset_cset(t.get(), H5T_CSET_UTF8);
  return t;
}

// The strings laid end to end at the type's fixed size.
std::vector<char> fixed_string_buffer(const std::vector<std::string>& values, std::size_t size) {
  std::vector<char> buffer(values.size() * size, '\0');
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::copy(values[i].begin(), values[i].end(), buffer.begin() + i * size);
  }
  return buffer;
}

std::size_t longest(const std::vector<std::string>& values) {
  std::size_t n = 1;
  for (const std::string& v : values) n = std::max(n, v.size());
  return n;
}

Temp vlen_string_type(H5T_cset_t cset = H5T_CSET_UTF8) {
  Temp t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(t.get(), H5T_VARIABLE);
  H5Tset_cset(t.get(), cset);
  return t;
}

// A failed call names the object and the operation; when the system refused a write for want of
// room (a full disk, a quota, a file-size limit), the cause too.
// Whether the HDF5 call that just failed on this thread found a checksum that does not match:
// damaged metadata (an object header, the superblock), not a mistake in what was asked.
bool checksum_failed() {
  bool found = false;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned, const H5E_error2_t* error, void* out) -> herr_t {
        // HDF5 1.10 has no error class for it: "incorrect metadata checksum after all read
        // attempts" comes as a bad value.
        if (error->desc != nullptr && std::strstr(error->desc, "checksum") != nullptr) {
          *static_cast<bool*>(out) = true;
        }
        return 0;
      },
      &found);
  return found;
}

// Call right after the HDF5 call whose status it checks: the error stack says why it failed.
void check(herr_t status, const std::string& where, const std::string& what) {
  if (status >= 0) return;
  const int cause = errno;
  if (checksum_failed()) {
    throw Error(where + ": " + what +
                " failed a metadata checksum: the file is damaged; re-create it (kiln preprocess "
                "or kiln train)");
  }
  const bool no_room = cause == ENOSPC || cause == EFBIG || cause == EDQUOT;
  throw Error(where + ": " + what + " failed" +
              (no_room ? ": " + std::string(std::strerror(cause)) : ""));
}

std::string join(const std::string& parent, const std::string& child) {
  if (parent.empty() || parent == "/") return "/" + child;
  return parent + "/" + child;
}

std::vector<std::string> read_fixed_strings(hid_t obj, hid_t type, hid_t space, bool is_attribute,
                                            const std::string& where) {
  const std::size_t size = H5Tget_size(type);
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  if (size == 0 || n < 0) throw Error(where + ": malformed strings");
  std::vector<char> buffer(size * static_cast<std::size_t>(n));
  if (!buffer.empty()) {
    const herr_t status = is_attribute
                              ? H5Aread(obj, type, buffer.data())
                              : H5Dread(obj, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data());
    check(status, where, "reading strings");
  }
  std::vector<std::string> out;
  for (hssize_t i = 0; i < n; ++i) {
    const char* s = buffer.data() + static_cast<std::size_t>(i) * size;
    out.emplace_back(s, strnlen(s, size));
  }
  return out;
}

// Variable-length strings stored as `file_type`. The memory type takes the file's character set:
// HDF5 converts no string between ASCII and UTF-8, and h5py stores a Python `bytes` value (as
// Keras writes keras_version and backend) as variable-length ASCII, a `str` as UTF-8.
std::vector<std::string> read_vlen_strings(hid_t obj, hid_t file_type, hid_t space,
                                           bool is_attribute, const std::string& where) {
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  std::vector<char*> raw(static_cast<std::size_t>(n), nullptr);
  Temp type = vlen_string_type(H5Tget_cset(file_type));
  const herr_t status = is_attribute
                            ? H5Aread(obj, type.get(), raw.data())
                            : H5Dread(obj, type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data());
  check(status, where, "reading strings");
  std::vector<std::string> out;
  out.reserve(raw.size());
  for (char* s : raw) out.emplace_back(s ? s : "");
  H5Dvlen_reclaim(type.get(), space, H5P_DEFAULT, raw.data());
  return out;
}

}  // namespace

// Object

Object::Object(Kind kind, Id id, std::shared_ptr<const std::string> file, std::string name)
    : kind_(kind), id_(id), file_(std::move(file)), name_(std::move(name)) {}

Object::~Object() { close_handle(); }

Object::Object(Object&& other) noexcept
    : kind_(other.kind_),
      id_(other.id_),
      file_(std::move(other.file_)),
      name_(std::move(other.name_)) {
  other.id_ = -1;
}

Object& Object::operator=(Object&& other) noexcept {
  if (this != &other) {
    close_handle();
    kind_ = other.kind_;
    id_ = other.id_;
    file_ = std::move(other.file_);
    name_ = std::move(other.name_);
    other.id_ = -1;
  }
  return *this;
}

void Object::close_handle() noexcept {
  silence();
  if (id_ < 0) return;
  switch (kind_) {
    case Kind::kFile:
      H5Fclose(id_);
      break;
    case Kind::kGroup:
      H5Gclose(id_);
      break;
    case Kind::kDataset:
      H5Dclose(id_);
      break;
  }
  id_ = -1;
}

bool Object::has_attribute(const std::string& key) const {
  silence();
  const htri_t exists = H5Aexists(id_, key.c_str());
  check(exists < 0 ? -1 : 0, where(), "looking for attribute '" + key + "'");
  return exists > 0;
}

namespace {
void write_attribute(hid_t obj, const std::string& key, hid_t file_type, hid_t mem_type,
                     const std::vector<hsize_t>& dims, const void* data, const std::string& where) {
  if (H5Aexists(obj, key.c_str()) > 0) H5Adelete(obj, key.c_str());
  Temp space(dims.empty() ? H5Screate(H5S_SCALAR)
                          : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
             H5Sclose);
  Temp attr(H5Acreate2(obj, key.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
            H5Aclose);
  if (!attr.ok()) throw Error(where + ": cannot create attribute '" + key + "'");
  check(H5Awrite(attr.get(), mem_type, data), where, "writing attribute '" + key + "'");
}
}  // namespace

void Object::set_attribute(const std::string& key, const std::string& value) {
  silence();
  Temp type = fixed_string_type(value.size());
  const std::vector<char> buffer = fixed_string_buffer({value}, H5Tget_size(type.get()));
  write_attribute(id_, key, type.get(), type.get(), {}, buffer.data(), where());
}

void Object::set_attribute(const std::string& key, std::int64_t value) {
  silence();
  write_attribute(id_, key, H5T_STD_I64LE, H5T_NATIVE_INT64, {}, &value, where());
}

void Object::set_attribute(const std::string& key, double value) {
  silence();
  write_attribute(id_, key, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {}, &value, where());
}

void Object::set_attribute(const std::string& key, const std::vector<std::string>& values) {
  silence();
  Temp type = fixed_string_type(longest(values));
  const std::vector<char> buffer = fixed_string_buffer(values, H5Tget_size(type.get()));
  write_attribute(id_, key, type.get(), type.get(), {values.size()}, buffer.data(), where());
}

namespace {
Temp open_attribute(hid_t obj, const std::string& key, const std::string& where) {
  Temp attr(H5Aopen(obj, key.c_str(), H5P_DEFAULT), H5Aclose);
  if (!attr.ok()) throw Error(where + ": attribute '" + key + "' is missing");
  return attr;
}
}  // namespace

std::vector<std::string> Object::strings_attribute(const std::string& key) const {
  silence();
  Temp attr = open_attribute(id_, key, where());
  Temp type(H5Aget_type(attr.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_STRING) {
    throw Error(where() + ": attribute '" + key + "' is not text");
  }
  Temp space(H5Aget_space(attr.get()), H5Sclose);
  if (H5Tis_variable_str(type.get()) > 0)
    return read_vlen_strings(attr.get(), type.get(), space.get(), true, where());
  return read_fixed_strings(attr.get(), type.get(), space.get(), true,
                            where() + ": attribute '" + key + "'");
}

std::string Object::string_attribute(const std::string& key) const {
  silence();
  auto values = strings_attribute(key);
  if (values.size() != 1) throw Error(where() + ": attribute '" + key + "' is not a single string");
  return values[0];
}

std::int64_t Object::int_attribute(const std::string& key) const {
  silence();
  Temp attr = open_attribute(id_, key, where());
  std::int64_t value = 0;
  check(H5Aread(attr.get(), H5T_NATIVE_INT64, &value), where(), "reading attribute '" + key + "'");
  return value;
}

double Object::double_attribute(const std::string& key) const {
  silence();
  Temp attr = open_attribute(id_, key, where());
  double value = 0;
  check(H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &value), where(), "reading attribute '" + key + "'");
  return value;
}

// Location

bool Location::exists(const std::string& path) const {
  silence();
  return H5Lexists(id_, path.c_str(), H5P_DEFAULT) > 0 &&
         H5Oexists_by_name(id_, path.c_str(), H5P_DEFAULT) > 0;
}

void Location::remove(const std::string& name) {
  silence();
  if (!exists(name)) return;
  if (H5Ldelete(id_, name.c_str(), H5P_DEFAULT) < 0)
    throw Error(where() + ": cannot remove " + name);
}

std::vector<std::string> Location::child_names() const {
  silence();
  H5G_info_t info;
  if (H5Gget_info(id_, &info) < 0) throw Error(where() + ": cannot list its members");
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t size =
        H5Lget_name_by_idx(id_, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (size < 0) throw Error(where() + ": cannot read a member's name");
    std::string name(static_cast<std::size_t>(size), '\0');
    H5Lget_name_by_idx(id_, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(),
                       static_cast<std::size_t>(size) + 1, H5P_DEFAULT);
    names.push_back(std::move(name));
  }
  return names;
}

Group Location::create_group(const std::string& name) {
  silence();
  const hid_t g = H5Gcreate2(id_, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0) throw Error(where() + ": cannot create group '" + name + "'");
  return Group(Kind::kGroup, g, file_, join(name_, name));
}

Group Location::open_group(const std::string& name) const {
  silence();
  if (!exists(name)) throw Error(*file_ + ": group " + join(name_, name) + " is missing");
  const hid_t g = H5Gopen2(id_, name.c_str(), H5P_DEFAULT);
  if (g < 0) throw Error(*file_ + ": " + join(name_, name) + " is not a group");
  return Group(Kind::kGroup, g, file_, join(name_, name));
}

Dataset Location::create_dataset(const std::string& name, Type type,
                                 const std::vector<std::uint64_t>& dims,
                                 const DatasetOptions& options) {
  silence();
  const std::vector<hsize_t> current(dims.begin(), dims.end());
  std::vector<hsize_t> maximum = current;
  if (options.extendible && !maximum.empty()) maximum[0] = H5S_UNLIMITED;
  Temp space(H5Screate_simple(static_cast<int>(current.size()), current.data(), maximum.data()),
             H5Sclose);
  Temp plist(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (!options.chunk.empty()) {
    const std::vector<hsize_t> chunk(options.chunk.begin(), options.chunk.end());
    check(H5Pset_chunk(plist.get(), static_cast<int>(chunk.size()), chunk.data()), where(),
          "setting chunks of '" + name + "'");
    if (options.gzip_level > 0) {
      H5Pset_shuffle(plist.get());
      check(H5Pset_deflate(plist.get(), static_cast<unsigned>(options.gzip_level)), where(),
            "setting compression of '" + name + "'");
    }
    if (options.checksum) {
      check(H5Pset_fletcher32(plist.get()), where(), "setting the checksum of '" + name + "'");
    }
  }
  const hid_t d = H5Dcreate2(id_, name.c_str(), stored(type), space.get(), H5P_DEFAULT, plist.get(),
                             H5P_DEFAULT);
  if (d < 0) throw Error(where() + ": cannot create dataset '" + name + "'");
  return Dataset(Kind::kDataset, d, file_, join(name_, name));
}

Dataset Location::open_dataset(const std::string& name) const {
  silence();
  return open_dataset(name, std::size_t{1} << 20);  // HDF5's default chunk cache
}

Dataset Location::open_dataset(const std::string& name, std::size_t chunk_cache_bytes) const {
  silence();
  if (!exists(name)) {
    throw Error(*file_ + ": dataset " + join(name_, name) +
                " is missing; is this a kiln file? (kiln preprocess writes them)");
  }
  Temp access(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose);
  // 12421 hash slots: a prime, as the HDF5 guide advises, ample for the chunks a cache holds.
  H5Pset_chunk_cache(access.get(), 12421, chunk_cache_bytes, 1.0);
  const hid_t d = H5Dopen2(id_, name.c_str(), access.get());
  if (d < 0) throw Error(*file_ + ": " + join(name_, name) + " is not a dataset");
  return Dataset(Kind::kDataset, d, file_, join(name_, name));
}

void Location::write_strings(const std::string& name, const std::vector<std::string>& values) {
  silence();
  Temp type = fixed_string_type(longest(values));
  const hsize_t n = values.size();
  Temp space(H5Screate_simple(1, &n, nullptr), H5Sclose);
  const hid_t d =
      H5Dcreate2(id_, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (d < 0) throw Error(where() + ": cannot create dataset '" + name + "'");
  Dataset dataset(Kind::kDataset, d, file_, join(name_, name));
  if (n == 0) return;
  const std::vector<char> buffer = fixed_string_buffer(values, H5Tget_size(type.get()));
  check(H5Dwrite(d, type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()), dataset.where(),
        "writing strings");
}

std::vector<std::string> Location::read_strings(const std::string& name) const {
  silence();
  Dataset d = open_dataset(name);
  Temp type(H5Dget_type(d.id()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_STRING) throw Error(d.where() + ": expected strings");
  Temp space(H5Dget_space(d.id()), H5Sclose);
  if (H5Sget_simple_extent_npoints(space.get()) == 0) return {};
  if (H5Tis_variable_str(type.get()) > 0) {
    return read_vlen_strings(d.id(), type.get(), space.get(), false, d.where());
  }
  return read_fixed_strings(d.id(), type.get(), space.get(), false, d.where());
}

// File

File File::create(const std::string& path, const std::string& shown_as) {
  silence();
  const std::string name = shown_as.empty() ? path : shown_as;
  // The 1.8 file format: its superblock and object headers carry checksums, so damaged metadata
  // is an error rather than something to parse (and attributes may exceed 64 KiB). HDF5 1.8 and
  // later read it, h5py included.
  Temp access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_libver_bounds(access.get(), H5F_LIBVER_V18, H5F_LIBVER_LATEST);
  const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access.get());
  if (f < 0) throw Error(name + ": cannot create the HDF5 file (is the folder writable?)");
  return File(Kind::kFile, f, std::make_shared<const std::string>(name), "/");
}

File File::open_write(const std::string& path, const std::string& shown_as) {
  silence();
  const std::string name = shown_as.empty() ? path : shown_as;
  if (H5Fis_hdf5(path.c_str()) <= 0) throw Error(name + ": not an HDF5 file");
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (f < 0) throw Error(name + ": cannot open the HDF5 file for writing");
  return File(Kind::kFile, f, std::make_shared<const std::string>(name), "/");
}

File File::open_read(const std::string& path) {
  silence();
  std::FILE* probe = std::fopen(path.c_str(), "rb");
  if (!probe) throw Error(path + ": cannot open: no such file or not readable");
  std::fclose(probe);
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    throw Error(path + ": not an HDF5 file (kiln reads the .h5 files that kiln preprocess writes)");
  }
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) throw Error(path + ": cannot open the HDF5 file (damaged?)");
  return File(Kind::kFile, f, std::make_shared<const std::string>(path), "/");
}

void File::close() {
  silence();
  if (id_ < 0) return;
  errno = 0;  // so that check() reports the cause of this close's failed write, not an older one
  const herr_t status = H5Fclose(id_);
  id_ = -1;
  check(status, *file_, "writing the file out");
}

// Dataset

std::vector<std::uint64_t> Dataset::dims() const {
  silence();
  Temp space(H5Dget_space(id_), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> d(static_cast<std::size_t>(std::max(rank, 0)));
  H5Sget_simple_extent_dims(space.get(), d.data(), nullptr);
  return {d.begin(), d.end()};
}

bool Dataset::has_type(Type type) const {
  silence();
  Temp actual(H5Dget_type(id_), H5Tclose);
  Temp wanted(H5Tget_native_type(stored(type), H5T_DIR_ASCEND), H5Tclose);
  Temp actual_native(H5Tget_native_type(actual.get(), H5T_DIR_ASCEND), H5Tclose);
  return H5Tequal(actual_native.get(), wanted.get()) > 0;
}

bool Dataset::is_filtered() const {
  silence();
  Temp plist(H5Dget_create_plist(id_), H5Pclose);
  return H5Pget_nfilters(plist.get()) > 0;
}

void Dataset::write(const void* data, Type type) {
  silence();
  check(H5Dwrite(id_, native(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, data), where(), "writing");
}

bool Dataset::has_checksum() const {
  silence();
  Temp plist(H5Dget_create_plist(id_), H5Pclose);
  unsigned flags = 0;
  std::size_t count = 0;
  return H5Pget_filter_by_id2(plist.get(), H5Z_FILTER_FLETCHER32, &flags, &count, nullptr, 0,
                              nullptr, nullptr) >= 0;
}

// A failed read of checksummed (or compressed) data: the bytes on disk are not what was written.
void Dataset::check_read(int status, const std::string& what) const {
  silence();
  if (status >= 0) return;
  if (has_checksum() || is_filtered()) {
    throw Error(where() + ": " + what + " failed " +
                (has_checksum() ? "its Fletcher-32 checksum" : "to decompress") +
                ": the file is damaged; re-create it (kiln preprocess or kiln train)");
  }
  check(status, where(), what);
}

void Dataset::read(void* data, Type type) const {
  silence();
  check_read(H5Dread(id_, native(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "reading it");
}

namespace {
// Selects rows [row, row + count) of `dataset`; returns (file space, memory space).
std::pair<Temp, Temp> select_rows(hid_t dataset, std::uint64_t row, std::uint64_t count,
                                  const std::string& where) {
  Temp file_space(H5Dget_space(dataset), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(file_space.get());
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(file_space.get(), dims.data(), nullptr);
  if (rank < 1 || row + count > dims[0]) {
    throw Error(where + ": rows [" + std::to_string(row) + ", " + std::to_string(row + count) +
                ") are outside the " + std::to_string(rank >= 1 ? dims[0] : 0) + " stored");
  }
  std::vector<hsize_t> start(dims.size(), 0), extent = dims;
  start[0] = row;
  extent[0] = count;
  check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, extent.data(),
                            nullptr),
        where, "selecting rows");
  Temp memory_space(H5Screate_simple(rank, extent.data(), nullptr), H5Sclose);
  return {std::move(file_space), std::move(memory_space)};
}
}  // namespace

void Dataset::write_rows(std::uint64_t row, std::uint64_t count, const void* data, Type type) {
  silence();
  silence();
  if (count == 0) return;
  auto [file_space, memory_space] = select_rows(id_, row, count, where());
  check(H5Dwrite(id_, native(type), memory_space.get(), file_space.get(), H5P_DEFAULT, data),
        where(), "writing rows");
}

void Dataset::read_rows(std::uint64_t row, std::uint64_t count, void* data, Type type) const {
  silence();
  silence();
  if (count == 0) return;
  auto [file_space, memory_space] = select_rows(id_, row, count, where());
  check_read(H5Dread(id_, native(type), memory_space.get(), file_space.get(), H5P_DEFAULT, data),
             "reading rows [" + std::to_string(row) + ", " + std::to_string(row + count) + ")");
}

void Dataset::resize_rows(std::uint64_t rows) {
  silence();
  silence();
  std::vector<std::uint64_t> d = dims();
  d[0] = rows;
  const std::vector<hsize_t> extent(d.begin(), d.end());
  check(H5Dset_extent(id_, extent.data()), where(), "growing the dataset");
}

}  // namespace kiln::io::h5
