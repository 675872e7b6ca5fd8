// Running the kiln binary (KILN_BINARY, set by tests/CMakeLists.txt) as a user would, capturing
// what it prints and its exit status.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

namespace kiln::testing {

struct Invocation {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs a whole shell command line (not only kiln's arguments).
inline Invocation kiln_shell(const std::string& command) {
  Invocation run;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return run;
  char buffer[4096];
  while (fgets(buffer, sizeof buffer, pipe)) run.output += buffer;
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

inline Invocation kiln(const std::string& args) {
  return kiln_shell(std::string(KILN_BINARY) + " " + args);
}

// Starts kiln with `args` in a child process whose output goes nowhere; the caller kills it and
// waits for it.
inline pid_t spawn_kiln(const std::vector<std::string>& args) {
  const pid_t child = fork();
  if (child == 0) {
    std::freopen("/dev/null", "w", stdout);
    std::freopen("/dev/null", "w", stderr);
    std::vector<char*> argv = {const_cast<char*>(KILN_BINARY)};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(KILN_BINARY, argv.data());
    _exit(127);
  }
  return child;
}

}  // namespace kiln::testing
