// kiln: one executable, one subcommand per job. Turns every kiln::Error into one line on stderr.
//   exit 0: success;
//        1: a bad or missing file, or a failed run (kiln::Error);
//        2: a usage or config mistake: a bad flag, config key or value (CLI11, kiln::ConfigError).
#include <malloc.h>

#include <csignal>
#include <cstdio>
#include <exception>
#include <opencv2/core/utility.hpp>
#include <string>

#include "apps/shared/command_line.hpp"
#include "apps/shared/commands.hpp"
#include "apps/shared/world.hpp"
#include "io/h5.hpp"
#include "io/runtime/openblas_threads.hpp"
#include "nn/error.hpp"
#include "nn/version.hpp"

namespace {

// How the process runs, before any command: threads, signals, libraries, the allocator.
void set_up_process() {
  // kiln runs many images at once, one per task; OpenCV splitting each resize or colour
  // conversion into tasks of its own would only add scheduling on top (decode_limit.cpp, the
  // reference the benchmarks compare with, does the same).
  cv::setNumThreads(1);
  // A file-size limit (ulimit -f) should fail the write that crosses it (EFBIG), which kiln reports
  // naming the file and cleans up after, not kill the process and leave a temporary file behind.
  std::signal(SIGXFSZ, SIG_IGN);
  kiln::io::h5::skip_library_cleanup_at_exit();
  // Idle OpenBLAS threads (loaded with OpenCV) would spin against the decode threads.
  kiln::io::stop_openblas_threads();
  // Image-sized buffers (a decoded photo is about 0.5 MB) are made and freed thousands of times a
  // second. By default glibc serves blocks over 128 KiB with fresh mmap()s and hands freed heap
  // tops back to the kernel, so each comes back as page faults: keep them in the heap. Measured
  // on `kiln preprocess --size 224x224` of 1000 photos: system time 0.17 -> 0.10 s, +13% images/s,
  // peak RSS 105 -> 130 MB.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
  mallopt(M_TOP_PAD, 16 << 20);
}

// Every subcommand, each added by its cmd_*.cpp.
void add_commands(CLI::App& app) {
  app.set_version_flag("--version", std::string("kiln ") + kiln::kVersion);
  // At most one subcommand; "none" is reported after parsing, so that an unknown flag such as
  // `kiln --bogus` is named in the error rather than hidden behind "a subcommand is required".
  app.require_subcommand(0, 1);
  kiln::apps::add_preprocess_command(app);
  kiln::apps::add_train_command(app);
  kiln::apps::add_lr_find_command(app);
  kiln::apps::add_search_command(app);
  kiln::apps::add_report_command(app);
  kiln::apps::add_evaluate_command(app);
  kiln::apps::add_inspect_command(app);
  kiln::apps::add_predict_command(app);
  kiln::apps::add_augment_preview_command(app);
  kiln::apps::add_fit_command(app);
#ifdef KILN_HAVE_ONNX
  kiln::apps::add_export_command(app);
#endif
  kiln::apps::add_import_command(app);
  kiln::apps::add_bench_command(app);
  // Under mpirun only these commands know what to do with several ranks.
  for (CLI::App* sub : app.get_subcommands({})) {
    const std::string name = sub->get_name();
    if (name == "train" || name == "evaluate" || name == "preprocess" || name == "bench") continue;
    sub->preparse_callback(
        [name](std::size_t) { kiln::apps::require_one_process("kiln " + name); });
  }
}

// Parses and runs the command; every error becomes one line and its exit status.
int run(CLI::App& app, int argc, char** argv) {
  using kiln::apps::fail;
  try {
    app.parse(argc, argv);
    if (app.get_subcommands().empty()) {
      std::string names;
      for (const CLI::App* sub : app.get_subcommands({})) {
        names += (names.empty() ? "" : ", ") + sub->get_name();
      }
      return fail(2, "kiln: error: a subcommand is required: " + names + " (see 'kiln --help')");
    }
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line naming the problem, and where to look.
    std::string where = "kiln";
    for (const CLI::App* sub : app.get_subcommands()) where += " " + sub->get_name();
    return fail(2, where + ": error: " + e.what() + " (see '" + where + " --help')");
  } catch (const kiln::ConfigError& e) {
    return fail(2, std::string("kiln: error: ") + e.what());
  } catch (const kiln::Error& e) {
    return fail(1, std::string("kiln: error: ") + e.what());
  } catch (const std::exception& e) {
    return fail(1, std::string("kiln: internal error: ") + e.what() + " (please report it)");
  }
  kiln::apps::leave_world();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  set_up_process();
  CLI::App app{
      "kiln: from a folder of images to a trained, evaluated CNN.\n"
      "  kiln preprocess → dataset.h5 → kiln train → model.h5 → kiln evaluate"};
  add_commands(app);
  kiln::apps::set_command_line(argc, argv);
  try {
    kiln::apps::join_world(&argc, &argv);
  } catch (const kiln::Error& e) {
    std::fprintf(stderr, "kiln: error: %s\n", e.what());
    return 1;
  }
  return run(app, argc, argv);
}
