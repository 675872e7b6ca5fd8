// kiln::Error: the one exception type a user ever sees.
// Its message names the thing (file, key, flag), the offending value and the fix, in one line;
// apps/main.cpp prints it as "kiln: error: <message>". assert() is for programmer errors only.
#pragma once

#include <stdexcept>
#include <string>

namespace kiln {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace kiln
