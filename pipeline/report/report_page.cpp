#include "pipeline/report/report_page.hpp"

#include <filesystem>
#include <fstream>

#include "io/atomic_file.hpp"
#include "nn/error.hpp"
#include "pipeline/report/report_assets.hpp"
#include "pipeline/report/report_data.hpp"

namespace kiln::pipeline {
namespace {

// Text placed inside <script> or <style> must not close the element early.
std::string inline_safe(std::string text) {
  for (std::size_t at = 0; (at = text.find("</", at)) != std::string::npos; at += 3) {
    text.replace(at, 2, "<\\/");
  }
  return text;
}

}  // namespace

std::string chartjs_source() {
  for (const char* path : {"/usr/share/javascript/chart.js/chart.min.js",
                           "/usr/share/nodejs/chart.js/dist/chart.min.js"}) {
    std::ifstream in(path, std::ios::binary);
    if (in) return {std::istreambuf_iterator<char>(in), {}};
  }
  throw Error(
      "kiln report draws its charts with Chart.js, which is not installed: apt-get install "
      "libjs-chart.js (or run scripts/install-deps.sh)");
}

std::string report_page(const Json& data, const std::string& chartjs, int refresh_seconds) {
  std::string page = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  if (refresh_seconds > 0 && data.value("live", false)) {
    page += "<meta http-equiv=\"refresh\" content=\"" + std::to_string(refresh_seconds) + "\">\n";
  }
  page += "<title>kiln report</title>\n<style>\n" + std::string(kReportCss) + "</style>\n</head>\n";
  page += "<body>\n<div id=\"report\"></div>\n<pre id=\"js-errors\"></pre>\n";
  page += "<script>\n" + inline_safe(chartjs) + "\n</script>\n";
  page += "<script>\nconst KILN_REPORT = " +
          inline_safe(data.dump(-1, ' ', false, Json::error_handler_t::replace)) + ";\n</script>\n";
  page += "<script>\n" + inline_safe(std::string(kReportJs)) + "\n</script>\n</body>\n</html>\n";
  return page;
}

Json write_report(const std::vector<std::string>& folders, const std::string& output,
                  int refresh_seconds) {
  io::check_output_file(output);
  const std::string chartjs = chartjs_source();
  Json data = collect_report(folders);
  io::write_file_atomically(output, report_page(data, chartjs, refresh_seconds), "the report");
  return data;
}

}  // namespace kiln::pipeline
