// The page of `kiln report`: one self-contained HTML file that opens offline from a file URL.
// Chart.js (Debian's libjs-chart.js, read at run time) and kiln's own script and style
// (pipeline/report/, compiled in) are inlined with the report's data (report_data.hpp); nothing
// is fetched.
#pragma once

#include <string>
#include <vector>

#include "nn/json.hpp"

namespace kiln::pipeline {

// Chart.js as installed; throws kiln::Error saying what to install when it is missing.
std::string chartjs_source();

// The page for `data`. With `refresh_seconds` > 0 and live runs in the data, the page reloads
// itself that often (kiln report --watch rewrites the file meanwhile).
std::string report_page(const Json& data, const std::string& chartjs, int refresh_seconds = 0);

// collect_report + report_page, written atomically to `output`. Returns the data.
Json write_report(const std::vector<std::string>& folders, const std::string& output,
                  int refresh_seconds = 0);

}  // namespace kiln::pipeline
