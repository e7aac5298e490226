#include "ingest/rebuild.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pm {

namespace {

// Rewritten rows are stored this many at a time (one transaction each), so
// that a rebuild after a decoder change, which may rewrite every row, holds
// no more of them at once.
constexpr size_t kRewriteChunk = 4096;

// The event a stored record stands for today: re-decoded from its request,
// or as stored (swept events, requests today's decoder refuses).
Event Redecode(const EventRecord& record, const DecodeLimits& limits,
               RebuildStats& stats) {
  if (!record.request) return record.event;
  const StoredRequest& stored = *record.request;
  Request request;
  request.method = stored.method;
  request.target = stored.target;
  request.content_type = stored.content_type;
  request.body = stored.body;
  request.received_at = record.event.received_at;
  auto decoded = Decode(request, limits);
  if (!decoded) {
    ++stats.undecodable;
    spdlog::warn("event {} no longer decodes ({}); folding it as stored",
                 record.event.id, decoded.error().message);
    return record.event;
  }
  Event e = std::move(decoded->event);
  // A picture stored apart left an empty part in the body: it came all the
  // same, whether or not the retention rule kept it.
  if (stored.picture) e.snapshot = true;
  e.id = record.event.id;
  e.received_at = record.event.received_at;
  return e;
}

// Rows to rewrite, stored a chunk at a time.
class Rewrites {
 public:
  explicit Rewrites(Store& store) : store_(store) {}
  Status Add(EventUpdate update) {
    pending_.push_back(std::move(update));
    return pending_.size() >= kRewriteChunk ? Flush() : Status{};
  }
  Status Flush() {
    Status s = store_.RewriteEvents(pending_);
    std::vector<EventUpdate>().swap(pending_);
    return s;
  }

 private:
  Store& store_;
  std::vector<EventUpdate> pending_;
};

// A part of the new ledger goes to the store once it holds this many
// sessions or links (and its printers are whole): a few hundred KB.
constexpr size_t kPartSessions = 1024;
constexpr size_t kPartLinks = 8192;

// One printer's logged events, as the second pass reads them (key order):
// the duplicate rule decided again, the rest folded from idle.
class DeviceFold {
 public:
  DeviceFold(const LedgerConfig& config, RebuildStats& stats, LedgerPart& part)
      : config_(config), stats_(stats), part_(part) {}

  // Returns whether the stored duplicate flag is wrong today.
  bool Add(const LoggedEvent& logged) {
    const Event& e = logged.event;
    // The duplicate rule (ledger.md s. 3) compares an event with the
    // earlier-logged ones of its printer and time: in key order those are
    // the events of the same time just before it, in id order.
    bool duplicate = false;
    if (logged.request && e.has_current_time) {
      if (same_time_.empty() || time_ != e.time) {
        same_time_.clear();
        time_ = e.time;
      }
      const DuplicateFields fields = DuplicateFieldsOf(e);
      duplicate = std::find(same_time_.begin(), same_time_.end(), fields) !=
                  same_time_.end();
      same_time_.push_back(fields);
    }
    if (!logged.request) ++stats_.swept;
    if (duplicate) {
      ++stats_.duplicates;
    } else if (e.test) {
      ++stats_.tests;
    } else {
      events_.push_back(e);
    }
    return duplicate != logged.duplicate;
  }

  // Folds the printer's events into the part and starts on the next one.
  void Finish(const std::string& device) {
    stats_.folded += static_cast<int64_t>(events_.size());
    Refolded refolded = Refold(config_, device, events_);
    stats_.sessions += static_cast<int64_t>(refolded.sessions.size());
    for (Session& s : refolded.sessions) part_.sessions.push_back(std::move(s));
    // Refold gives one link for each event, in the events' order.
    for (size_t k = 0; k < refolded.event_sessions.size(); ++k) {
      const auto& [event_id, session_id] = refolded.event_sessions[k];
      if (session_id) {
        part_.links.push_back({event_id, *session_id, events_[k].time});
      }
    }
    part_.device_states.push_back(std::move(refolded.state));
    ++stats_.devices;
    events_.clear();
    // A printer with a long history leaves a large buffer: given back.
    if (events_.capacity() > 4 * kPartLinks) std::vector<Event>().swap(events_);
    same_time_.clear();
  }

 private:
  const LedgerConfig& config_;
  RebuildStats& stats_;
  LedgerPart& part_;
  std::vector<Event> events_;  // the printer's foldable events, key order
  // What the duplicate rule compares of the printer's events at `time_` so
  // far that carry currentTime and came with a request.
  TimeMs time_ = 0;
  std::vector<DuplicateFields> same_time_;
};

}  // namespace

Result<RebuildStats> Rebuild(Store& store, const LedgerConfig& config,
                             const DecodeLimits& limits,
                             const RebuildProgress& progress, bool decode_all) {
  RebuildStats stats;
  // Rows whose decoded columns or duplicate flag no longer match today's
  // reading are rewritten before the ledger, so that later re-folds of
  // their printer (a late event) read what this rebuild read.
  Rewrites rewrites(store);
  // Ids of the rows the first pass rewrote (ascending, as read): the second
  // pass counts a row whose flag it changes only once.
  std::vector<int64_t> rewritten;

  // The log as it stands: the first pass reads up to here, the second
  // folds up to here, and the projection is left here.
  Result<int64_t> end = store.LogEnd();
  if (!end) return end.error();
  const int64_t last_id = *end;

  // First pass, in id order: every request another decoder read decoded
  // again, its row rewritten when today's reading differs. Nothing is kept
  // per event.
  const int64_t decoder = DecoderId();
  Status first = store.ForEachEventToDecode(
      decode_all ? 0 : decoder, [&](const EventRecord& record) -> Status {
        if (record.event.id > last_id) return {};
        Event e = Redecode(record, limits, stats);
        ++stats.decoded_again;
        if (progress) progress("reading", record.event.id);
        if (e == record.event) return {};
        rewritten.push_back(e.id);
        return rewrites.Add({std::move(e), record.duplicate});
      });
  if (!first) return first.error();
  if (Status s = rewrites.Flush(); !s) return s.error();
  if (Status s = store.RecordDecoded(decoder, last_id); !s) return s.error();
  if (progress) progress("reading", last_id);

  // Second pass, by printer and key: the duplicate rule and the fold, from
  // the rows as they now read. The process holds one printer's events and
  // a part of the new ledger; the store keeps the rest of it (in the
  // transaction that replaces the old one) until the commit.
  Result<std::unique_ptr<LedgerRewrite>> begun = store.RewriteLedger();
  if (!begun) {
    return Unavailable(fmt::format(
        "the ledger cannot be rebuilt (the old one is unchanged): {}",
        begun.error().message));
  }
  LedgerRewrite& ledger = **begun;
  // Duplicate flags that change, rewritten in the ledger's transaction.
  std::vector<EventUpdate> flags;
  LedgerPart part;
  DeviceFold fold(config, stats, part);
  std::optional<std::string> device;
  auto finish_device = [&]() -> Status {
    fold.Finish(*device);
    if (part.sessions.size() < kPartSessions && part.links.size() < kPartLinks) {
      return {};
    }
    Status s = ledger.Add(part);
    part.clear();
    return s;
  };
  Status second = store.ForEachEventByDevice(
      last_id, [&](const LoggedEvent& logged) -> Status {
        if (device != logged.event.device) {
          if (device) {
            if (Status s = finish_device(); !s) return s;
          }
          device = logged.event.device;
        }
        ++stats.events;
        if (progress) progress("folding", stats.events);
        if (!fold.Add(logged)) return {};
        if (!std::binary_search(rewritten.begin(), rewritten.end(),
                                logged.event.id)) {
          ++stats.redecoded_differently;
        }
        flags.push_back({logged.event, !logged.duplicate});
        if (flags.size() < kRewriteChunk) return {};
        Status s = ledger.RewriteEvents(flags);
        flags.clear();
        return s;
      });
  if (second && device) second = finish_device();
  if (second && !part.empty()) second = ledger.Add(part);
  if (second) second = ledger.RewriteEvents(flags);
  // The projection replaced whole, at the position of the last event read:
  // a projector that starts later folds only what was logged after it.
  if (second) second = ledger.Commit(last_id);
  if (!second) {
    return Unavailable(fmt::format(
        "the ledger could not be rebuilt (the old one is unchanged): "
        "{}; run `printmeter rebuild` again",
        second.error().message));
  }
  stats.redecoded_differently += static_cast<int64_t>(rewritten.size());
  stats.ledger_rows_changed = ledger.rows_changed();

  if (stats.redecoded_differently > 0) {
    spdlog::warn("{} stored event(s) read differently today than when they "
                 "were received; the ledger now follows today's reading",
                 stats.redecoded_differently);
  }
  return stats;
}

}  // namespace pm
