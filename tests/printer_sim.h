// A printer as OctoPrint's Webhooks plugin reports it, for end-to-end tests:
// prints that start, progress, pause, resume and end done, cancelled or
// failed, now and then with their start missed or their end never sent;
// the plugin's start spam; resends of a request as it was; and requests
// that arrive after later ones (a late `currentTime`). Seeded: the same
// seed gives the same requests. Pure: it only builds bodies.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace pm::testing {

struct SimRequest {
  std::string content_type;
  std::string body;
};

class PrinterSim {
 public:
  enum class Encoding { kJson, kForm };

  // `start_time`: the printer's clock (epoch seconds) at its first request.
  PrinterSim(std::string device, Encoding encoding, uint64_t seed,
             int64_t start_time)
      : device_(std::move(device)),
        encoding_(encoding),
        rng_(seed),
        t_(start_time) {}

  // The next request the printer sends.
  SimRequest Next() {
    for (Held& h : held_) --h.wait;
    auto due = std::find_if(held_.begin(), held_.end(),
                            [](const Held& h) { return h.wait <= 0; });
    if (due != held_.end()) {
      SimRequest late = std::move(due->request);
      held_.erase(due);
      return Remember(std::move(late));
    }
    if (!recent_.empty() && Chance(0.04)) {  // a resend, byte for byte
      return recent_[Uniform(0, static_cast<int64_t>(recent_.size()) - 1)];
    }
    SimRequest next = Generate();
    while (Chance(0.07)) {  // held up: arrives after 1-6 later requests
      held_.push_back({std::move(next), static_cast<int>(Uniform(1, 6))});
      next = Generate();
    }
    return Remember(std::move(next));
  }

 private:
  enum class State { kIdle, kPrinting, kPaused };
  struct Held {
    SimRequest request;
    int wait;
  };

  bool Chance(double p) {
    return std::uniform_real_distribution<>(0, 1)(rng_) < p;
  }
  int64_t Uniform(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }

  SimRequest Remember(SimRequest r) {
    recent_.push_back(r);
    if (recent_.size() > 8) recent_.erase(recent_.begin());
    return r;
  }

  // OctoPrint's print time of the current job; of the last one when idle.
  int64_t PrintTime() const {
    return state_ == State::kIdle ? last_print_time_
                                  : t_ - started_ - paused_total_;
  }
  void Finish() {
    last_print_time_ = PrintTime();
    state_ = State::kIdle;
  }

  void NewPrint(int64_t print_time) {
    static constexpr std::string_view kFiles[] = {
        "benchy",      "calibration_cube", "bracket_v3",
        "phone_stand", "gear_32t",         "cable_clip_x10"};
    part_ = std::string(
        kFiles[Uniform(0, static_cast<int64_t>(std::size(kFiles)) - 1)]);
    size_ = Uniform(100'000, 9'000'000);
    estimate_ = Uniform(600, 5400);
    filament_mm_ = static_cast<double>(Uniform(500, 20'000));
    user_ = Chance(0.3) ? "" : (Chance(0.5) ? "alice" : "bob");
    started_ = t_ - print_time;
    paused_total_ = 0;
    state_ = State::kPrinting;
  }

  // One request of the printer's story, its clock moved on.
  SimRequest Generate() {
    switch (state_) {
      case State::kIdle:
        return FromIdle();
      case State::kPrinting:
        return FromPrinting();
      case State::kPaused:
        return FromPaused();
    }
    return {};
  }

  SimRequest FromIdle() {
    t_ += Uniform(30, 1800);
    double r = std::uniform_real_distribution<>(0, 1)(rng_);
    if (r < 0.80) {
      NewPrint(0);
      return Send("Print Started", FileExtra());
    }
    if (r < 0.85) {  // the start was missed: a print done out of nowhere
      NewPrint(Uniform(300, 3000));
      Finish();
      boost::json::object extra = FileExtra();
      extra["time"] = PrintTime();
      return Send("Print Done", std::move(extra));
    }
    if (r < 0.90) {  // the start was missed: a print found half done
      NewPrint(Uniform(60, 1200));
      return Send("Print Progress", {{"progress", 40}});
    }
    return Send(Chance(0.5) ? "Connected" : "User Action Needed", {});
  }

  SimRequest FromPrinting() {
    t_ += Uniform(5, 90);
    double r = std::uniform_real_distribution<>(0, 1)(rng_);
    if (t_ - started_ <= 120 && r < 0.15) {  // the plugin's start spam
      return Send("Print Started", FileExtra());
    }
    if (r < 0.03) {
      state_ = State::kPaused;
      pause_at_ = t_;
      return Send("Print Paused", FileExtra());
    }
    if (r < 0.05) return End(Chance(0.7) ? "cancelled" : "error");
    if (r < 0.055) {  // a new print while printing: the end was never sent
      NewPrint(0);
      return Send("Print Started", FileExtra());
    }
    if (r < 0.065) {
      if (Chance(0.5)) return Send("User Action Needed", {});
      return Send("Error", {{"error", "Heater decoupled"}});
    }
    if (PrintTime() >= estimate_) {
      Finish();
      boost::json::object extra = FileExtra();
      extra["time"] = PrintTime();
      return Send("Print Done", std::move(extra));
    }
    return Send("Print Progress", {{"progress", Percent()}});
  }

  SimRequest FromPaused() {
    t_ += Uniform(10, 600);
    double r = std::uniform_real_distribution<>(0, 1)(rng_);
    if (r < 0.70 || r >= 0.93) {
      paused_total_ += t_ - pause_at_;
      state_ = State::kPrinting;
      if (r < 0.70) return Send("Print Resumed", FileExtra());
      return Send("Custom Event", {}, "Print resumed by the user");
    }
    if (r < 0.80) return End("cancelled");
    NewPrint(0);  // restarted from the printer while paused
    return Send("Print Started", FileExtra());
  }

  SimRequest End(const char* reason) {
    Finish();
    boost::json::object extra = FileExtra();
    extra["time"] = PrintTime();
    extra["reason"] = reason;
    extra["progress"] = Percent();
    if (std::string_view(reason) == "error") {
      extra["error"] = "Thermal Runaway";
    }
    return Send("Print Failed", std::move(extra));
  }

  int64_t Percent() const {
    return std::clamp<int64_t>(100 * PrintTime() / estimate_, 0, 100);
  }

  boost::json::object FileExtra() const {
    boost::json::object extra{{"name", part_ + ".gcode"},
                              {"path", "parts/" + part_ + ".gcode"},
                              {"origin", "local"},
                              {"size", size_},
                              {"owner", "pi"}};
    if (!user_.empty()) extra["user"] = user_;
    return extra;
  }

  // The plugin's body for `topic`: the printer's state and job as they are
  // now, and its clock.
  SimRequest Send(std::string_view topic, boost::json::object extra,
                  std::string_view message = "") {
    bool printing = state_ == State::kPrinting;
    bool paused = state_ == State::kPaused;
    boost::json::object o;
    o["deviceIdentifier"] = device_;
    o["apiSecret"] = "secret-" + device_;
    o["topic"] = topic;
    o["message"] = message.empty() ? fmt::format("{} ({})", topic, device_)
                                   : std::string(message);
    o["extra"] = std::move(extra);
    o["state"] = {
        {"text", printing ? "Printing"
                 : paused ? "Paused"
                          : "Operational"},
        {"flags",
         {{"operational", true}, {"printing", printing}, {"paused", paused}}},
        {"error", ""}};
    o["job"] = {
        {"file",
         {{"name", part_ + ".gcode"},
          {"path", "parts/" + part_ + ".gcode"},
          {"display", part_ + ".gcode"},
          {"origin", "local"},
          {"size", size_}}},
        {"estimatedPrintTime", estimate_},
        {"filament",
         {{"tool0",
           {{"length", filament_mm_}, {"volume", filament_mm_ * 0.0024}}}}},
        {"user", user_.empty() ? boost::json::value(nullptr)
                               : boost::json::value(user_)}};
    o["progress"] = {{"completion", Percent()}, {"printTime", PrintTime()}};
    o["currentTime"] = t_;
    if (encoding_ == Encoding::kJson) {
      return {"application/json", boost::json::serialize(o)};
    }
    return {"application/x-www-form-urlencoded", FormBody(o)};
  }

  // The plugin's form encoding: scalars as Python's str(), objects as JSON
  // text, None dropped.
  static std::string FormBody(const boost::json::object& o) {
    std::string out;
    for (const auto& [key, value] : o) {
      if (value.is_null()) continue;
      std::string text;
      if (value.is_string()) {
        text = value.as_string();
      } else if (value.is_bool()) {
        text = value.as_bool() ? "True" : "False";
      } else {
        text = boost::json::serialize(value);
      }
      if (!out.empty()) out += '&';
      out += Escape(key) + '=' + Escape(text);
    }
    return out;
  }

  static std::string Escape(std::string_view s) {
    std::string out;
    for (char c : s) {
      if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ||
          c == '_' || c == '~') {
        out += c;
      } else if (c == ' ') {
        out += '+';
      } else {
        out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
      }
    }
    return out;
  }

  const std::string device_;
  const Encoding encoding_;
  std::mt19937_64 rng_;
  int64_t t_;  // the printer's clock, epoch seconds
  State state_ = State::kIdle;
  std::string part_ = "benchy";
  int64_t size_ = 1'000'000;
  int64_t estimate_ = 1800;
  double filament_mm_ = 1000;
  std::string user_;
  int64_t started_ = 0;
  int64_t paused_total_ = 0;
  int64_t pause_at_ = 0;
  int64_t last_print_time_ = 0;
  std::vector<Held> held_;
  std::vector<SimRequest> recent_;  // the last few sent, for resends
};

}  // namespace pm::testing
