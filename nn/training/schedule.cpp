#include "nn/training/schedule.hpp"

#include <cmath>
#include <numbers>
#include <sstream>

#include "nn/error.hpp"

namespace kiln::nn {
namespace {

const char* kForms =
    "constant, step:K:F, exponential:D, cosine[:MIN], piecewise:0=R0,E1=R1,... (each optionally "
    "+warmup:W)";

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);) parts.push_back(part);
  return parts;
}

double number(const std::string& text, const std::string& schedule) {
  try {
    std::size_t used = 0;
    const double v = std::stod(text, &used);
    if (used == text.size()) return v;
  } catch (const std::exception&) {
  }
  throw Error("schedule '" + schedule + "': '" + text + "' is not a number; forms: " + kForms);
}

}  // namespace

Schedule Schedule::parse(const std::string& text) {
  Schedule s;
  s.text = text;
  std::string main = text;
  if (const auto plus = text.find("+warmup:"); plus != std::string::npos) {
    main = text.substr(0, plus);
    s.warmup_epochs = static_cast<std::int64_t>(number(text.substr(plus + 8), text));
    if (s.warmup_epochs < 1) throw Error("schedule '" + text + "': warmup needs at least 1 epoch");
  }
  const std::vector<std::string> parts = split(main, ':');
  const std::string kind = parts.empty() ? "" : parts[0];
  auto need = [&](std::size_t n) {
    if (parts.size() != n)
      throw Error("schedule '" + text + "': wrong number of fields; forms: " + kForms);
  };
  if (kind == "constant") {
    need(1);
  } else if (kind == "step") {
    need(3);
    s.kind = Kind::kStep;
    s.step_epochs = static_cast<std::int64_t>(number(parts[1], text));
    s.factor = number(parts[2], text);
    if (s.step_epochs < 1 || !(s.factor > 0))
      throw Error("schedule '" + text + "': needs K >= 1 and F > 0");
  } else if (kind == "exponential") {
    need(2);
    s.kind = Kind::kExponential;
    s.decay = number(parts[1], text);
    if (!(s.decay > 0)) throw Error("schedule '" + text + "': the decay must be > 0");
  } else if (kind == "cosine") {
    if (parts.size() > 2) need(2);
    s.kind = Kind::kCosine;
    if (parts.size() == 2) s.min_rate = number(parts[1], text);
  } else if (kind == "piecewise") {
    need(2);
    s.kind = Kind::kPiecewise;
    for (const std::string& piece : split(parts[1], ',')) {
      const auto eq = piece.find('=');
      if (eq == std::string::npos)
        throw Error("schedule '" + text + "': pieces are EPOCH=RATE, got '" + piece + "'");
      s.pieces.emplace_back(static_cast<std::int64_t>(number(piece.substr(0, eq), text)),
                            number(piece.substr(eq + 1), text));
    }
    if (s.pieces.empty() || s.pieces.front().first != 0) {
      throw Error("schedule '" + text + "': the first piece must start at epoch 0");
    }
    for (std::size_t i = 1; i < s.pieces.size(); ++i) {
      if (s.pieces[i].first <= s.pieces[i - 1].first)
        throw Error("schedule '" + text + "': epochs must increase");
    }
  } else {
    throw Error("unknown schedule '" + text + "'; forms: " + kForms);
  }
  return s;
}

double Schedule::rate(double base, std::int64_t epoch, std::int64_t epochs) const {
  double r = base;
  switch (kind) {
    case Kind::kConstant:
      break;
    case Kind::kStep:
      r = base * std::pow(factor, static_cast<double>(epoch / step_epochs));
      break;
    case Kind::kExponential:
      r = base * std::pow(decay, static_cast<double>(epoch));
      break;
    case Kind::kCosine: {
      const double progress =
          epochs > 0 ? static_cast<double>(epoch) / static_cast<double>(epochs) : 0.0;
      r = min_rate + (base - min_rate) * (1.0 + std::cos(std::numbers::pi * progress)) / 2.0;
      break;
    }
    case Kind::kPiecewise:
      for (const auto& [first, value] : pieces) {
        if (epoch >= first) r = value;
      }
      break;
  }
  if (epoch < warmup_epochs)
    r *= static_cast<double>(epoch + 1) / static_cast<double>(warmup_epochs);
  return r;
}

}  // namespace kiln::nn
