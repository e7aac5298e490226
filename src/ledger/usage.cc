// Usage (ledger.md section 7).
//
// Decisions where the spec is silent:
// - Time: a session's busy interval [started_at, ended_at or now) is clipped
//   to the window and, when grouping by day/week/month, split across the
//   buckets it overlaps; its pauses (the ongoing one up to `now` included)
//   are clipped the same way, and print = busy - paused.
// - Counts, filament and cost belong to the session's start: they count in
//   the window (and the bucket) where the session started, so that summing
//   the rows of consecutive windows never counts a print twice. The cost uses
//   the session's whole print time and filament (a session that started
//   before the window costs nothing in it).
// - Cost stays an unrounded double, summed per session after each one's
//   minimum: rounding to cents is for display only, so totals do not drift.
// - Utilization of a row with a time key divides by that bucket's length
//   within the window (a 23-hour DST day by 23 h); otherwise by to - from.
//   The totals' utilization is busy_s / ((to - from) * printers), the share
//   of the whole fleet's time it was busy: a farm of ten printers that all
//   printed half the time shows 50 %, not 500 %. Printers are those the
//   query names (the fleet, idle ones included) or, when more, the devices
//   among the sessions; a printer added in the middle of the window counts
//   for all of it.
#include "ledger/usage.h"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>

static_assert(USE_OS_TZDB == 1,
              "printmeter reads the system's tz database (/usr/share/zoneinfo)"
              "; link date::date-tz from libhowardhinnant-date-dev");

namespace pm {
namespace {

constexpr std::array<std::pair<GroupKey, std::string_view>, 7> kGroupKeyNames{{
    {GroupKey::kDevice, "device"},
    {GroupKey::kUser, "user"},
    {GroupKey::kDay, "day"},
    {GroupKey::kWeek, "week"},
    {GroupKey::kMonth, "month"},
    {GroupKey::kOrigin, "origin"},
    {GroupKey::kStatus, "status"},
}};
constexpr size_t kKeyCount = kGroupKeyNames.size();

std::string ValidKeys() {
  std::string out;
  for (const auto& [key, name] : kGroupKeyNames) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// ---- Calendar buckets in one zone ----

using date::local_days;
using Ms = std::chrono::milliseconds;

// A calendar bucket [begin, end) and the local date it starts on.
struct Bucket {
  TimeMs begin = 0;
  TimeMs end = 0;
  local_days first;
};

class Calendar {
 public:
  explicit Calendar(const date::time_zone* tz) : tz_(tz) {}

  // The day, ISO week or month containing t.
  Bucket Find(GroupKey key, TimeMs t) const {
    local_days day = LocalDay(t);
    local_days first = day;
    local_days next = day + date::days{1};
    if (key == GroupKey::kWeek) {
      unsigned since_monday = date::weekday{day}.iso_encoding() - 1;
      first = day - date::days{since_monday};
      next = first + date::days{7};
    } else if (key == GroupKey::kMonth) {
      date::year_month_day ymd{day};
      date::year_month_day start = ymd.year() / ymd.month() / 1;
      first = local_days{start};
      next = local_days{start + date::months{1}};
    }
    Bucket b{std::min(StartOf(first), t), StartOf(next), first};
    // A zone whose clocks go back across midnight can leave t past the
    // computed end; step on so the bucket always contains t.
    while (b.end <= t) b.end = StartOf(next += date::days{1});
    return b;
  }

 private:
  local_days LocalDay(TimeMs t) const {
    date::sys_time<Ms> sys{Ms{t}};
    if (tz_ == nullptr) {
      return local_days{date::floor<date::days>(sys).time_since_epoch()};
    }
    return date::floor<date::days>(tz_->to_local(sys));
  }

  // The first instant of local day d (midnight, or the end of a DST gap that
  // swallows midnight; the first of two midnights when it repeats).
  TimeMs StartOf(local_days d) const {
    if (tz_ == nullptr) {
      return std::chrono::duration_cast<Ms>(d.time_since_epoch()).count();
    }
    auto sys = tz_->to_sys(date::local_time<Ms>{d.time_since_epoch()},
                           date::choose::earliest);
    return std::chrono::duration_cast<Ms>(sys.time_since_epoch()).count();
  }

  const date::time_zone* tz_;
};

// The buckets of one key that cover a window, found by binary search: a
// time zone conversion costs far more than searching a year of days.
class BucketTable {
 public:
  // Beyond this many buckets (a day key over centuries) look each one up.
  static constexpr TimeMs kMaxBuckets = 100000;

  BucketTable(const Calendar& calendar, GroupKey key, TimeMs from, TimeMs to)
      : calendar_(calendar), key_(key) {
    if ((to - from) / kDayMs > kMaxBuckets) return;
    for (TimeMs t = from; t < to;) {
      buckets_.push_back(calendar.Find(key, t));
      t = buckets_.back().end;
    }
  }

  // The bucket containing t.
  Bucket Find(TimeMs t) const {
    auto it =
        std::upper_bound(buckets_.begin(), buckets_.end(), t,
                         [](TimeMs x, const Bucket& b) { return x < b.begin; });
    if (it == buckets_.begin()) return calendar_.Find(key_, t);
    --it;
    if (t >= it->end) return calendar_.Find(key_, t);
    return *it;
  }

 private:
  const Calendar& calendar_;
  GroupKey key_;
  std::vector<Bucket> buckets_;  // consecutive, covering the window
};

// ---- Aggregation ----

// A row's key while aggregating: one number per GroupKey (by enum value):
// an interned string id (-1 for null), a status, or a bucket's first day.
using RowId = std::array<int64_t, kKeyCount>;

struct RowIdHash {
  size_t operator()(const RowId& id) const {
    uint64_t h = 1469598103934665603ull;
    for (int64_t v : id) h = (h ^ static_cast<uint64_t>(v)) * 1099511628211ull;
    return h;
  }
};

struct Sums {
  int64_t sessions = 0, completed = 0, cancelled = 0, failed = 0,
          interrupted = 0, restarted = 0;
  TimeMs busy = 0, paused = 0;
  double filament_mm = 0, cost = 0;
  TimeMs bucket_begin = 0, bucket_end = 0;  // the calendar bucket, if any
};

// Interns strings (views into the sessions, which outlive the computation).
class Interner {
 public:
  // `s` must outlive the Interner (it points into a session).
  int64_t Id(std::string_view s) {
    auto [it, added] = ids_.try_emplace(s, static_cast<int64_t>(names_.size()));
    if (added) names_.push_back(s);
    return it->second;
  }
  int64_t IdOrNull(const std::optional<std::string>& s) {
    return s ? Id(std::string_view(*s)) : -1;
  }
  size_t size() const { return names_.size(); }
  std::optional<std::string> Name(int64_t id) const {
    if (id < 0) return std::nullopt;
    return std::string(names_[id]);
  }

 private:
  std::unordered_map<std::string_view, int64_t> ids_;
  std::vector<std::string_view> names_;
};

TimeMs Overlap(TimeMs a0, TimeMs a1, TimeMs b0, TimeMs b1) {
  return std::max<TimeMs>(0, std::min(a1, b1) - std::max(a0, b0));
}

// Paused time of `s` within [from, to); the session ends at `end`.
TimeMs PausedWithin(const Session& s, TimeMs end, TimeMs from, TimeMs to) {
  TimeMs paused = 0;
  for (const Interval& p : s.pauses)
    paused += Overlap(p.begin, p.end, from, to);
  if (s.pause_started_at) paused += Overlap(*s.pause_started_at, end, from, to);
  return std::min(paused, to - from);
}

class Aggregator {
 public:
  explicit Aggregator(const UsageQuery& q) : q_(q), calendar_(q.tz) {
    for (GroupKey k : q.group_by) used_[Slot(k)] = true;
    for (GroupKey k : {GroupKey::kDay, GroupKey::kWeek, GroupKey::kMonth}) {
      if (Used(k)) tables_.push_back({k, {calendar_, k, q.from, q.to}});
    }
  }

  void Add(const Session& s) {
    TimeMs end = std::max(s.started_at, s.ended_at.value_or(q_.now));
    TimeMs begin = std::max(s.started_at, q_.from);
    TimeMs stop = std::min(end, q_.to);
    bool started_inside = s.started_at >= q_.from && s.started_at < q_.to;
    if (begin >= stop && !started_inside) return;
    seen_devices_.Id(std::string_view(s.device));
    RowId base = BaseId(s);
    Sums* start_row = nullptr;  // the row of its start, once found
    for (TimeMs t = begin; t < stop;) {
      auto [id, bucket] = Locate(base, t);
      TimeMs piece_end = std::min(stop, bucket.end);
      Sums& sums = RowAt(id, bucket);
      if (t == s.started_at) start_row = &sums;
      sums.busy += piece_end - t;
      sums.paused += PausedWithin(s, end, t, piece_end);
      t = piece_end;
    }
    if (started_inside) {
      Count(s, start_row ? *start_row : RowAt(Locate(base, s.started_at)));
    }
  }

  UsageReport Finish() {
    UsageReport report;
    Sums totals;
    for (const auto& [id, sums] : rows_) {
      UsageRow row;
      for (GroupKey k : q_.group_by) row.key.push_back(KeyText(k, id));
      row.figures = Figures(sums, Denominator(sums));
      report.rows.push_back(std::move(row));
      AddTo(totals, sums);
    }
    std::sort(
        report.rows.begin(), report.rows.end(),
        [](const UsageRow& a, const UsageRow& b) { return a.key < b.key; });
    TimeMs printers = static_cast<TimeMs>(
        std::max<size_t>({q_.printers, seen_devices_.size(), 1}));
    report.totals = Figures(totals, (q_.to - q_.from) * printers);
    return report;
  }

 private:
  RowId BaseId(const Session& s) {
    RowId id{};
    if (Used(GroupKey::kDevice)) {
      id[Slot(GroupKey::kDevice)] = devices_.Id(std::string_view(s.device));
    }
    if (Used(GroupKey::kUser)) {
      id[Slot(GroupKey::kUser)] = users_.IdOrNull(s.user);
    }
    if (Used(GroupKey::kOrigin)) {
      id[Slot(GroupKey::kOrigin)] = origins_.IdOrNull(s.file.origin);
    }
    if (Used(GroupKey::kStatus)) {
      id[Slot(GroupKey::kStatus)] = static_cast<int64_t>(s.status);
    }
    return id;
  }

  // The row and calendar bucket of instant t: the intersection of the day,
  // week and month buckets grouped by (the whole window without a time key).
  std::pair<RowId, Bucket> Locate(RowId id, TimeMs t) const {
    Bucket b{q_.from, q_.to, {}};
    for (const auto& [k, table] : tables_) {
      Bucket kb = table.Find(t);
      b.begin = std::max(b.begin, kb.begin);
      b.end = std::min(b.end, kb.end);
      id[Slot(k)] = kb.first.time_since_epoch().count();
    }
    return {id, b};
  }

  // Counts the session, its filament and cost in `sums`, its start's row.
  void Count(const Session& s, Sums& sums) {
    sums.sessions++;
    switch (s.status) {
      case SessionStatus::kCompleted:
        sums.completed++;
        break;
      case SessionStatus::kCancelled:
        sums.cancelled++;
        break;
      case SessionStatus::kFailed:
        sums.failed++;
        break;
      case SessionStatus::kInterrupted:
        sums.interrupted++;
        break;
      case SessionStatus::kRestarted:
        sums.restarted++;
        break;
      case SessionStatus::kPrinting:
      case SessionStatus::kPaused:
        break;
    }
    sums.filament_mm += FilamentMm(s).value_or(0);
    sums.cost += SessionCost(s, q_.rates, q_.now);
  }

  Sums& RowAt(const std::pair<RowId, Bucket>& located) {
    return RowAt(located.first, located.second);
  }
  Sums& RowAt(const RowId& id, const Bucket& bucket) {
    auto [it, added] = rows_.try_emplace(id);
    if (added) {
      it->second.bucket_begin = bucket.begin;
      it->second.bucket_end = bucket.end;
    }
    return it->second;
  }

  std::optional<std::string> KeyText(GroupKey k, const RowId& id) const {
    int64_t v = id[Slot(k)];
    switch (k) {
      case GroupKey::kDevice:
        return devices_.Name(v);
      case GroupKey::kUser:
        return users_.Name(v);
      case GroupKey::kOrigin:
        return origins_.Name(v);
      case GroupKey::kStatus:
        return std::string(StatusName(static_cast<SessionStatus>(v)));
      case GroupKey::kDay:
      case GroupKey::kWeek:
      case GroupKey::kMonth:
        return date::format("%F", local_days{date::days{v}});
    }
    return std::nullopt;
  }

  TimeMs Denominator(const Sums& sums) const {
    if (tables_.empty()) return q_.to - q_.from;
    return sums.bucket_end - sums.bucket_begin;
  }

  static void AddTo(Sums& to, const Sums& s) {
    to.sessions += s.sessions;
    to.completed += s.completed;
    to.cancelled += s.cancelled;
    to.failed += s.failed;
    to.interrupted += s.interrupted;
    to.restarted += s.restarted;
    to.busy += s.busy;
    to.paused += s.paused;
    to.filament_mm += s.filament_mm;
    to.cost += s.cost;
  }

  static UsageFigures Figures(const Sums& s, TimeMs denominator) {
    UsageFigures f;
    f.sessions = s.sessions;
    f.completed = s.completed;
    f.cancelled = s.cancelled;
    f.failed = s.failed;
    f.interrupted = s.interrupted;
    f.restarted = s.restarted;
    f.busy_s = s.busy / 1000.0;
    f.paused_s = s.paused / 1000.0;
    f.print_s = (s.busy - s.paused) / 1000.0;
    f.utilization =
        denominator > 0 ? static_cast<double>(s.busy) / denominator : 0.0;
    f.filament_mm = s.filament_mm;
    f.cost = s.cost;
    return f;
  }

  static size_t Slot(GroupKey k) { return static_cast<size_t>(k); }
  bool Used(GroupKey k) const { return used_[Slot(k)]; }

  const UsageQuery& q_;
  Calendar calendar_;
  std::array<bool, kKeyCount> used_{};
  std::vector<std::pair<GroupKey, BucketTable>> tables_;  // the time keys
  Interner devices_, users_, origins_;
  Interner seen_devices_;  // every device with a session in the window
  std::unordered_map<RowId, Sums, RowIdHash> rows_;
};

}  // namespace

std::string_view GroupKeyName(GroupKey key) {
  for (const auto& [k, name] : kGroupKeyNames) {
    if (k == key) return name;
  }
  return "device";
}

Result<std::vector<GroupKey>> ParseGroupBy(std::string_view text) {
  std::vector<GroupKey> keys;
  if (Trim(text).empty()) return keys;
  while (true) {
    size_t comma = text.find(',');
    std::string_view word = Trim(text.substr(0, comma));
    auto found =
        std::find_if(kGroupKeyNames.begin(), kGroupKeyNames.end(),
                     [&](const auto& entry) { return entry.second == word; });
    if (found == kGroupKeyNames.end()) {
      return Invalid(word.empty()
                         ? "group_by has an empty key; valid keys are " +
                               ValidKeys() + ", separated by commas"
                         : "unknown group_by key \"" + std::string(word) +
                               "\"; valid keys are " + ValidKeys());
    }
    if (std::find(keys.begin(), keys.end(), found->first) != keys.end()) {
      return Invalid("group_by names \"" + std::string(word) +
                     "\" twice; name each key once");
    }
    keys.push_back(found->first);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return keys;
}

Result<const date::time_zone*> FindZone(std::string_view name) {
  if (name.empty()) {
    return Invalid(
        "the time zone is empty; give an IANA name such as "
        "\"Europe/Berlin\" or \"UTC\"");
  }
  try {
    return date::locate_zone(std::string(name));
  } catch (...) {  // date throws std::runtime_error for an unknown name
    return Invalid("unknown time zone \"" + std::string(name) +
                   "\"; give an IANA name such as \"Europe/Berlin\" or "
                   "\"UTC\" (the names under /usr/share/zoneinfo)");
  }
}

UsageReport ComputeUsage(const UsageQuery& query,
                         std::span<const Session> sessions) {
  if (query.to <= query.from) return {};
  Aggregator aggregator(query);
  for (const Session& s : sessions) aggregator.Add(s);
  return aggregator.Finish();
}

}  // namespace pm
