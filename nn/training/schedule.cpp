#include "nn/training/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <sstream>

#include "nn/error.hpp"

namespace kiln::nn {
namespace {

const char* kForms =
    "constant, step:K:F, exponential:D, cosine[:MIN], piecewise:0=R0,E1=R1,..., "
    "one_cycle[:P[:D[:F]]] (each optionally +warmup:W epochs or +warmup:Nsteps)";

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
    std::string length = text.substr(plus + 8);
    const bool in_steps = length.size() > 5 && length.ends_with("steps");
    if (in_steps) length.resize(length.size() - 5);
    const double w = number(length, text);
    if (in_steps) {
      if (w < 1 || w != std::floor(w))
        throw Error("schedule '" + text + "': warm-up steps must be a whole number >= 1");
      s.warmup_steps = static_cast<std::int64_t>(w);
    } else {
      if (!(w > 0))
        throw Error("schedule '" + text + "': the warm-up must last more than 0 epochs (" +
                    "e.g. +warmup:1, +warmup:0.5 or +warmup:500steps)");
      s.warmup_epochs = w;
    }
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
  } else if (kind == "one_cycle") {
    if (parts.size() > 4) need(4);
    s.kind = Kind::kOneCycle;
    if (parts.size() > 1) s.rise_fraction = number(parts[1], text);
    if (parts.size() > 2) s.initial_division = number(parts[2], text);
    if (parts.size() > 3) s.final_division = number(parts[3], text);
    if (!(s.rise_fraction > 0 && s.rise_fraction < 1) || !(s.initial_division >= 1) ||
        !(s.final_division >= 1))
      throw Error("schedule '" + text + "': one_cycle needs 0 < P < 1, D >= 1 and F >= 1");
  } else {
    throw Error("unknown schedule '" + text + "'; forms: " + kForms);
  }
  return s;
}

namespace {

// From `from` (t = 0) to `to` (t = 1) along half a cosine.
double cosine_between(double from, double to, double t) {
  return to + (from - to) * (1.0 + std::cos(std::numbers::pi * t)) / 2.0;
}

}  // namespace

double Schedule::rate(double base, const SchedulePoint& at) const {
  const double e = at.fractional_epoch();
  const double planned = static_cast<double>(std::max<std::int64_t>(at.epochs, 1));
  double r = base;
  switch (kind) {
    case Kind::kConstant:
      break;
    case Kind::kStep:
      r = base * std::pow(factor, std::floor(e / static_cast<double>(step_epochs)));
      break;
    case Kind::kExponential:
      r = base * std::pow(decay, e);
      break;
    case Kind::kCosine:
      r = cosine_between(base, min_rate, e / planned);
      break;
    case Kind::kPiecewise:
      for (const auto& [first, value] : pieces) {
        if (e >= static_cast<double>(first)) r = value;
      }
      break;
    case Kind::kOneCycle: {
      // Over the planned steps, as OneCycleLR counts them: the peak at step P·total − 1, the
      // last step at the lowest rate.
      const double total = planned * static_cast<double>(at.steps_per_epoch);
      const double s = static_cast<double>(at.global_step());
      const double peak = std::max(1.0, rise_fraction * total - 1.0);
      const double low = base / initial_division;
      r = s <= peak ? cosine_between(low, base, s / peak)
                    : cosine_between(base, low / final_division,
                                     std::min(1.0, (s - peak) / std::max(1.0, total - 1.0 - peak)));
      break;
    }
  }
  const double ramp = warmup_steps > 0 ? static_cast<double>(warmup_steps)
                                       : warmup_epochs * static_cast<double>(at.steps_per_epoch);
  const double s = static_cast<double>(at.global_step());
  if (ramp > 0 && s + 1 < ramp) r *= (s + 1) / ramp;
  return r;
}

}  // namespace kiln::nn
