#include "io/file_format.hpp"

#include "nn/error.hpp"

namespace kiln::io {

void check_file_format(const h5::File& file, const std::string& format, std::int64_t version,
                       const std::string& how_to_make) {
  if (!file.has_attribute("format") || file.string_attribute("format") != format) {
    throw Error(file.file() + ": not a " + format + " file (no format = \"" + format +
                "\" attribute); " + how_to_make);
  }
  const std::int64_t found = file.int_attribute("format_version");
  if (found != version) {
    throw Error(file.file() + ": " + format + " format version " + std::to_string(found) +
                " is not supported (this kiln reads version " + std::to_string(version) + "); " +
                how_to_make);
  }
}

std::string file_format_of(const std::string& path) {
  const h5::File file = h5::File::open_read(path);
  return file.has_attribute("format") ? file.string_attribute("format") : std::string();
}

}  // namespace kiln::io
