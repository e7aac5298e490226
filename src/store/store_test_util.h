// Helpers for the store tests: a temporary directory and sample records.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "store/store.h"

namespace pm::testing {

// A fresh directory under the system's temp dir, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "pm_store_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const {
    return (std::filesystem::path(path_) / name).string();
  }

 private:
  std::string path_;
};

inline std::unique_ptr<Store> MustOpen(const std::string& path) {
  Result<std::unique_ptr<Store>> store = OpenStore("sqlite:" + path);
  EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error().message);
  return store.ok() ? std::move(*store) : nullptr;
}

// A minimal event: only the required fields, every optional one unset.
inline Event BareEvent(int64_t id, const std::string& device, Kind kind,
                       TimeMs time) {
  Event e;
  e.id = id;
  e.device = device;
  e.topic = std::string(KindName(kind));
  e.kind = kind;
  e.time = time;
  e.has_current_time = true;
  e.received_at = time + 7;
  return e;
}

// An event with every optional field set.
inline Event FullEvent(int64_t id) {
  Event e = BareEvent(id, "delta", Kind::kFailed, 1718036225123);
  e.topic = "Print Failed";
  e.test = true;
  e.file = {"shape~10.gco", "folder/shape~10.gco", "Shape Box.gcode", "sdcard",
            123456};
  e.user = "ada";
  e.message = "Your print has failed";
  e.reported_time_s = 1234.5;
  e.reason = "error";
  e.progress_pct = 42.25;
  e.print_time_s = 1200.0;
  e.print_time_left_s = 2400.0;
  e.filament_mm = 5123.75;
  e.filament_cm3 = 12.5;
  e.estimated_s = 3600.0;
  e.error = "Thermal runaway";
  e.printing = false;
  e.paused = true;
  e.snapshot = true;
  return e;
}

// A closed session with only the required fields.
inline Session BareSession(int64_t id, const std::string& device,
                           TimeMs started_at, std::optional<TimeMs> ended_at) {
  Session s;
  s.id = id;
  s.device = device;
  s.status = ended_at ? SessionStatus::kCompleted : SessionStatus::kPrinting;
  s.started_at = started_at;
  s.ended_at = ended_at;
  s.last_event_at = ended_at.value_or(started_at);
  s.opened_by = {started_at, id};
  if (ended_at) s.closed_by = EventKey{*ended_at, id + 1};
  s.event_count = 1;
  return s;
}

// A session with every field set.
inline Session FullSession(int64_t id) {
  Session s = BareSession(id, "delta", 1718000000000, 1718009000000);
  s.status = SessionStatus::kCancelled;
  s.last_event_at = 1718008000000;
  s.pauses = {{1718001000000, 1718002000000}, {1718003000000, 1718003500000}};
  s.pause_started_at = 1718004000000;
  s.file = {"a.gcode", "dir/a.gcode", "A", "local", 99};
  s.user = "grace";
  s.progress_pct = 55.5;
  s.reported_time_s = 8000.25;
  s.estimated_s = 9000.0;
  s.time_left_s = 1800.0;
  s.time_left_at = 1718001800000;
  s.job_filament_mm = 4000.5;
  s.job_filament_cm3 = 9.75;
  s.error = "cancelled by user";
  s.start_inferred = true;
  s.end_inferred = true;
  s.event_count = 17;
  s.snapshot = true;
  s.opened_by = {1717999000000, id};
  s.closed_by = EventKey{1718009000000, id + 16};
  s.idle_after = true;
  return s;
}

inline EventRecord Record(const Event& e) {
  EventRecord r;
  r.event = e;
  r.request = StoredRequest{"POST", "/webhook", "application/json",
                            "{\"topic\":\"x\"}"};
  return r;
}

}  // namespace pm::testing
