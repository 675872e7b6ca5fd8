// kiln::Error: the one exception type a user ever sees.
// Its message names the thing (file, key, flag), the offending value and the fix, in one line;
// apps/main.cpp prints it as "kiln: error: <message>". assert() is for programmer errors only.
#pragma once

#include <stdexcept>
#include <string>

namespace kiln {

// A bad or missing file, or a run that failed: `kiln` exits with status 1.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// A mistake in what the user asked for — an unknown config key, a value of the wrong type or out
// of range, options that contradict each other: `kiln` exits with status 2, as for a bad flag.
class ConfigError : public Error {
 public:
  using Error::Error;
};

}  // namespace kiln
