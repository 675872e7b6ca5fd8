// check_file_format: the first check on every kiln HDF5 file read back (datasets, models):
// the `format` attribute names the kind of file and `format_version` one this kiln reads.
#pragma once

#include <cstdint>
#include <string>

#include "io/h5.hpp"

namespace kiln::io {

// Accepts format versions oldest..newest and returns the file's. Throws kiln::Error naming the
// file, what it is not, and `how_to_make` ("kiln train writes them").
std::int64_t check_file_format(const h5::File& file, const std::string& format, std::int64_t oldest,
                               std::int64_t newest, const std::string& how_to_make);

// The `format` attribute of a kiln HDF5 file ("kiln-dataset", "kiln-model"), or "" when it has
// none. Throws kiln::Error when the file is not HDF5 at all.
std::string file_format_of(const std::string& path);

}  // namespace kiln::io
