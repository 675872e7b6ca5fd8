#include "apps/shared/trial_process.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io/run_files/run_directory.hpp"
#include "nn/error.hpp"

namespace kiln::apps {
namespace {

std::string this_executable() {
  std::error_code error;
  const auto path = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) throw Error("cannot find the kiln executable (/proc/self/exe): " + error.message());
  return path.string();
}

// The last "kiln: error: ..." line kiln wrote into the log, without the prefix.
std::string error_line(const std::string& log) {
  std::ifstream in(log);
  std::string line, last;
  const std::string prefix = "kiln: error: ";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) last = line.substr(prefix.size());
  }
  return last;
}

}  // namespace

pipeline::TrialExit run_trial_process(const pipeline::TrialRun& run) {
  namespace fs = std::filesystem;
  const std::string exe = this_executable();
  std::vector<std::string> args = {exe, "train"};
  if (run.resume) {
    args.insert(args.end(), {"--resume", run.dir});
  } else {
    args.insert(args.end(), {"--config", io::RunDirectory(run.dir).config()});
  }
  args.insert(args.end(), {"--threads", std::to_string(run.threads)});
  if (run.stop_after_epoch > 0) {
    args.insert(args.end(), {"--stop-after", std::to_string(run.stop_after_epoch)});
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  const std::string log = (fs::path(run.dir) / "train.log").string();
  const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out < 0) throw Error(log + ": " + std::strerror(errno));
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child < 0) {
    const int e = errno;
    ::close(out);
    throw Error("cannot start a trial process: " + std::string(std::strerror(e)));
  }
  if (child == 0) {  // only async-signal-safe calls until exec
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the search died before the line above
    ::dup2(out, STDOUT_FILENO);
    ::dup2(out, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    static const char message[] = "kiln: error: cannot run the kiln executable\n";
    (void)!::write(STDERR_FILENO, message, sizeof message - 1);
    ::_exit(127);
  }
  ::close(out);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0) {
    if (errno != EINTR)
      throw Error("waiting for a trial process: " + std::string(std::strerror(errno)));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  if (WIFSIGNALED(status)) {
    const int signal = WTERMSIG(status);
    const bool interrupted = signal == SIGINT || signal == SIGTERM || signal == SIGHUP;
    return {false, interrupted,
            "killed by signal " + std::to_string(signal) + " (" + ::strsignal(signal) + "); see " +
                log};
  }
  const std::string reason = error_line(log);
  return {false, false,
          reason.empty()
              ? "kiln train exited with " + std::to_string(WEXITSTATUS(status)) + "; see " + log
              : reason};
}

}  // namespace kiln::apps
