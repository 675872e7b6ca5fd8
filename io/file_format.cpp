#include "io/file_format.hpp"

#include "nn/error.hpp"

namespace kiln::io {

std::int64_t check_file_format(const h5::File& file, const std::string& format, std::int64_t oldest,
                               std::int64_t newest, const std::string& how_to_make) {
  if (!file.has_attribute("format") || file.string_attribute("format") != format) {
    throw Error(file.file() + ": not a " + format + " file (no format = \"" + format +
                "\" attribute); " + how_to_make);
  }
  const std::int64_t found = file.int_attribute("format_version");
  if (found < oldest || found > newest) {
    const std::string readable =
        oldest == newest ? "version " + std::to_string(newest)
                         : "versions " + std::to_string(oldest) + " to " + std::to_string(newest);
    throw Error(file.file() + ": " + format + " format version " + std::to_string(found) +
                " is not supported (this kiln reads " + readable + "); " + how_to_make);
  }
  return found;
}

std::string file_format_of(const std::string& path) {
  const h5::File file = h5::File::open_read(path);
  return file.has_attribute("format") ? file.string_attribute("format") : std::string();
}

}  // namespace kiln::io
