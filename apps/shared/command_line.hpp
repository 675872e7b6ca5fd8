// The command line of this process, recorded in the files kiln writes (how was this made?).
#pragma once

#include <string>

namespace kiln::apps {

void set_command_line(int argc, char** argv);
std::string command_line();

}  // namespace kiln::apps
