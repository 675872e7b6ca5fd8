#include "pipeline/search/search_space.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <regex>

#include "nn/error.hpp"
#include "nn/random.hpp"

namespace kiln::pipeline {
namespace {

// name(a, b) with two numbers.
bool parse_range(const std::string& text, const std::string& name, double& lo, double& hi) {
  static const std::regex form(R"(^\s*(\w+)\s*\(\s*([^,]+?)\s*,\s*([^,]+?)\s*\)\s*$)");
  std::smatch m;
  if (!std::regex_match(text, m, form) || m[1] != name) return false;
  try {
    std::size_t used_lo = 0, used_hi = 0;
    lo = std::stod(m[2], &used_lo);
    hi = std::stod(m[3], &used_hi);
    return used_lo == m[2].str().size() && used_hi == m[3].str().size();
  } catch (const std::exception&) {
    return false;
  }
}

// A double in [0, 1) from 53 random bits.
double unit(nn::Rng& rng) {
  const std::uint64_t high = rng.next_u32(), low = rng.next_u32();
  return static_cast<double>((high << 21) ^ (low >> 11)) * 0x1p-53;
}

std::string value_text(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) {
    char text[32];
    std::snprintf(text, sizeof text, "%.4g", v.get<double>());
    return text;
  }
  return v.dump();
}

}  // namespace

bool SearchParam::log_scale() const {
  if (kind == Kind::kLogUniform) return true;
  if (kind != Kind::kValues) return false;
  double least = std::numeric_limits<double>::infinity(), most = 0.0;
  for (const Json& v : values) {
    if (!v.is_number() || v.get<double>() <= 0) return false;
    least = std::min(least, v.get<double>());
    most = std::max(most, v.get<double>());
  }
  return most >= 100 * least;
}

SearchParam parse_search_param(const std::string& key, const Json& spec,
                               const std::string& origin) {
  SearchParam p;
  p.key = key;
  p.text = spec.is_string() ? spec.get<std::string>() : spec.dump();
  const std::string where = origin + ": '" + key + "' ";
  if (spec.is_array()) {
    if (spec.empty()) throw ConfigError(where + "has an empty list of values");
    p.values.assign(spec.begin(), spec.end());
    return p;
  }
  if (!spec.is_string()) {  // one value: a fixed setting, an axis of one
    p.values = {spec};
    return p;
  }
  const std::string& text = p.text;
  const std::string usage =
      "; give a list of values or uniform(a, b), loguniform(a, b), int(a, b), choice([...])";
  if (parse_range(text, "uniform", p.lo, p.hi)) {
    p.kind = SearchParam::Kind::kUniform;
    if (!(p.lo < p.hi)) throw ConfigError(where + text + ": needs a < b");
    return p;
  }
  if (parse_range(text, "loguniform", p.lo, p.hi)) {
    p.kind = SearchParam::Kind::kLogUniform;
    if (!(p.lo > 0 && p.lo < p.hi)) throw ConfigError(where + text + ": needs 0 < a < b");
    return p;
  }
  if (parse_range(text, "int", p.lo, p.hi)) {
    p.kind = SearchParam::Kind::kInt;
    if (p.lo != std::floor(p.lo) || p.hi != std::floor(p.hi) || !(p.lo <= p.hi)) {
      throw ConfigError(where + text + ": needs integers a <= b");
    }
    return p;
  }
  static const std::regex choice(R"(^\s*choice\s*\((.*)\)\s*$)");
  std::smatch m;
  if (std::regex_match(text, m, choice)) {
    const Json list = Json::parse(m[1].str(), nullptr, false);
    if (!list.is_array() || list.empty()) {
      throw ConfigError(where + text +
                        ": choice takes a JSON list, e.g. choice([\"sgd\", \"adam\"])");
    }
    p.values.assign(list.begin(), list.end());
    return p;
  }
  if (text.find('(') != std::string::npos)
    throw ConfigError(where + text + " is not a distribution" + usage);
  p.values = {spec};  // a plain string value, e.g. a model name
  return p;
}

SearchParam parse_search_assignment(const std::string& assignment) {
  const std::size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw ConfigError("--param " + assignment +
                      ": write key=spec, e.g. --param optimizer.lr='loguniform(1e-4, 1e-1)'");
  }
  const std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  Json spec = Json::parse(text, nullptr, false);
  if (spec.is_discarded()) spec = text;
  return parse_search_param(key, spec, "--param " + assignment);
}

std::vector<SearchParam> parse_search_space(const Json& object, const std::string& origin) {
  if (!object.is_object() || object.empty()) {
    throw ConfigError(origin +
                      ": a search space is a JSON object of config keys, e.g. "
                      "{\"optimizer.lr\": \"loguniform(1e-4, 1e-1)\"}");
  }
  std::vector<SearchParam> space;
  for (const auto& [key, spec] : object.items())
    space.push_back(parse_search_param(key, spec, origin));
  return space;
}

std::vector<SearchPoint> grid_points(const std::vector<SearchParam>& space) {
  std::vector<std::vector<Json>> axes;
  for (const SearchParam& p : space) {
    if (!p.enumerable()) {
      throw ConfigError("grid search: '" + p.key + "' is " + p.text +
                        ", which has no finite list of values; give a list, or use --strategy "
                        "random");
    }
    std::vector<Json> axis = p.values;
    if (p.kind == SearchParam::Kind::kInt) {
      if (p.hi - p.lo >= 10000)
        throw ConfigError("grid search: '" + p.key + "' " + p.text + " has too many values");
      for (auto v = static_cast<std::int64_t>(p.lo); v <= static_cast<std::int64_t>(p.hi); ++v) {
        axis.emplace_back(v);
      }
    }
    axes.push_back(std::move(axis));
  }
  std::vector<SearchPoint> points = {Json::object()};
  for (std::size_t a = 0; a < axes.size(); ++a) {
    std::vector<SearchPoint> next;
    for (const SearchPoint& point : points) {
      for (const Json& v : axes[a]) {
        SearchPoint more = point;
        more[space[a].key] = v;
        next.push_back(std::move(more));
      }
    }
    points = std::move(next);
  }
  return points;
}

SearchPoint random_point(const std::vector<SearchParam>& space, std::uint64_t seed,
                         std::int64_t trial) {
  SearchPoint point = Json::object();
  for (std::size_t i = 0; i < space.size(); ++i) {
    const SearchParam& p = space[i];
    nn::Rng rng({seed, static_cast<std::uint64_t>(trial), i, nn::kSlotSearch});
    switch (p.kind) {
      case SearchParam::Kind::kValues:
        point[p.key] = p.values[static_cast<std::size_t>(
            rng.randint(0, static_cast<std::int64_t>(p.values.size())))];
        break;
      case SearchParam::Kind::kUniform:
        point[p.key] = p.lo + (p.hi - p.lo) * unit(rng);
        break;
      case SearchParam::Kind::kLogUniform:
        point[p.key] = std::exp(std::log(p.lo) + (std::log(p.hi) - std::log(p.lo)) * unit(rng));
        break;
      case SearchParam::Kind::kInt:
        point[p.key] =
            rng.randint(static_cast<std::int64_t>(p.lo), static_cast<std::int64_t>(p.hi) + 1);
        break;
    }
  }
  return point;
}

void set_config_path(Json& config, const std::string& key, const Json& value) {
  Json* at = &config;
  std::size_t start = 0;
  std::string walked;
  while (true) {
    const std::size_t dot = key.find('.', start);
    const std::string part = key.substr(start, dot == std::string::npos ? dot : dot - start);
    Json* next = nullptr;
    if (at->is_object() && at->contains(part)) {
      next = &(*at)[part];
    } else if (at->is_array() && !part.empty() &&
               part.find_first_not_of("0123456789") == std::string::npos &&
               std::stoull(part) < at->size()) {
      next = &(*at)[std::stoull(part)];
    }
    if (next == nullptr) {
      const std::string what =
          at->is_array()    ? "a list of " + std::to_string(at->size()) + " items, counted from 0"
          : at->is_object() ? "no key '" + part + "'"
                            : "the value " + at->dump() + ", not a list or object to look into";
      throw ConfigError("search parameter '" + key +
                        "': " + (walked.empty() ? "the config" : "'" + walked + "'") + " has " +
                        what + " (kiln train --keys lists the keys)");
    }
    walked += (walked.empty() ? "" : ".") + part;
    at = next;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  *at = value;
}

Json config_at(const Json& base, const SearchPoint& point) {
  Json config = base;
  for (const auto& [key, value] : point.items()) set_config_path(config, key, value);
  return config;
}

std::string point_text(const SearchPoint& point) {
  std::string text;
  for (const auto& [key, value] : point.items()) {
    text += (text.empty() ? "" : " ") + key + "=" + value_text(value);
  }
  return text;
}

}  // namespace kiln::pipeline
