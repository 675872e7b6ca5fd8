#include "apps/shared/command_line.hpp"

namespace kiln::apps {
namespace {
std::string& stored() {
  static std::string line;
  return line;
}
}  // namespace

void set_command_line(int argc, char** argv) {
  std::string& line = stored();
  line.clear();
  for (int i = 0; i < argc; ++i) {
    if (i) line += ' ';
    line += argv[i];
  }
}

std::string command_line() { return stored(); }

}  // namespace kiln::apps
