// The append journal's side of SqliteStore (append_journal.h): appends
// answered from the journal, the pending ones the writer's lookups see,
// their move into the database behind the answers, and what a crash left.
//
// The order that keeps every answer true:
// - JournalAppend decides ids, duplicates and registrations against the
//   database AND the pending appends, writes one record, and only then
//   adds the append to pending_.
// - MovePending commits the pending appends into the database (fsynced),
//   and only then forgets them: a lookup that misses one in pending_ finds
//   it in the database (it looks at pending_ first).
// - A segment of the journal starts over only when none of its appends is
//   pending: every record in it is then in the database, durably.
// - The projector's ReadLog moves what is pending before it reads, so the
//   ledger never passes an event the database does not have yet.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "store/append_rules.h"
#include "store/sqlite_rows.h"
#include "store/sqlite_store.h"

namespace pm {

using sqlite::Connection;
using sqlite::Query;

namespace {

// What HasDuplicate (sqlite_log.cc) compares, as one string; nullopt for an
// event without currentTime (never a duplicate).
std::optional<std::string> DuplicateKey(const Event& e) {
  if (!e.has_current_time) return std::nullopt;
  // The texts length-prefixed: no two keys read the same (a printer's name
  // comes from the request).
  return fmt::format("{}:{}|{}|{}|{}|{}", e.device.size(), e.device, e.time,
                     static_cast<int>(e.kind),
                     e.reported_time_s ? fmt::format("{}", *e.reported_time_s)
                                       : std::string("-"),
                     e.file.path ? fmt::format("{}:{}", e.file.path->size(),
                                               *e.file.path)
                                 : std::string("-"));
}

// Journals set aside earlier (SqliteStore::SetJournalAside) keep another
// database's answered webhooks until someone deletes them: said at every
// start of a writer, so that 16 MiB files on a Raspberry Pi's card are not
// forgotten beside the database.
void RemindOfJournalsAside(const std::string& journal_path) {
  namespace fs = std::filesystem;
  const fs::path journal(journal_path);
  const std::string prefix = journal.filename().string() + ".other-";
  std::error_code ec;
  fs::path folder = journal.parent_path();
  if (folder.empty()) folder = ".";
  std::vector<std::string> names;
  uintmax_t bytes = 0;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    names.push_back(it->path().string());
    std::error_code size_error;
    const uintmax_t size = fs::file_size(it->path(), size_error);
    if (!size_error) bytes += size;
  }
  if (names.empty()) return;
  std::sort(names.begin(), names.end());
  spdlog::warn(
      "{} journal(s) set aside earlier are still beside the database ({}; "
      "{:.0f} MiB): they hold answered webhooks of another database, never "
      "moved into this one (README \"Troubleshooting\"); delete them once "
      "you no longer need them",
      names.size(), fmt::join(names, ", "),
      static_cast<double>(bytes) / (1 << 20));
}

}  // namespace

Status SqliteStore::OpenJournal(bool make) {
  const std::string path = path_ + "-appends";
  std::error_code ec;
  if (!make && !std::filesystem::exists(path, ec)) return {};
  // Before this start sets one aside (which it says itself).
  if (make) RemindOfJournalsAside(path);
  // The token the journal's headers carry: this database's own.
  Result<std::string> owner = sqlite::Single<std::string>(
      *writer_, "SELECT token FROM store_identity WHERE id = ?", 1,
      [](Query& q) { return q.Text(); }, std::string());
  if (!owner.ok()) return owner.error();
  Result<std::unique_ptr<AppendJournal>> opened =
      AppendJournal::Open(path, {.owner = *owner});
  if (!opened.ok()) return opened.error();
  std::unique_ptr<AppendJournal> journal = std::move(*opened);
  Result<std::vector<std::string>> records = journal->ReadAll();
  if (!records.ok()) return records.error();
  // What a crash left: the records beyond the log, in one transaction.
  std::vector<journal::Batch> left;
  int64_t next_id = next_event_id_;
  for (const std::string& bytes : *records) {
    Result<journal::Batch> batch = journal::Decode(bytes);
    if (!batch.ok()) {
      // Its CRC held, so this is no torn write: refuse to guess.
      return Error{ErrorCode::kConflict,
                   fmt::format("{} in {}; move the file aside (with printmeter "
                               "stopped) to start without it",
                               batch.error().message, path)};
    }
    if (batch->events.empty() ||
        batch->events.front().record.event.id < next_event_id_) {
      continue;
    }
    next_id = std::max(next_id, batch->events.back().record.event.id + 1);
    left.push_back(std::move(*batch));
  }
  // In id order: the segments' records follow one another.
  std::sort(left.begin(), left.end(), [](const auto& a, const auto& b) {
    return a.events.front().record.event.id < b.events.front().record.event.id;
  });
  if (!left.empty()) {
    size_t events = 0;
    Status s = WriteTransaction(*writer_, /*durable=*/true, [&]() -> Status {
      for (const journal::Batch& b : left) {
        if (Status inserted = InsertJournaled(*writer_, b); !inserted.ok()) {
          return inserted;
        }
        events += b.events.size();
      }
      return {};
    });
    if (!s.ok()) {
      return Unavailable(fmt::format(
          "cannot move the answered webhooks in {} into the database: {}",
          path, s.error().message));
    }
    next_event_id_ = next_id;
    spdlog::info("moved {} answered webhook(s) from {} into the database "
                 "(the last run ended before it had)",
                 events, path);
  }
  if (journal->foreign_records() > 0) {
    // Answered webhooks of another database (this one was deleted or
    // replaced while they waited to be moved): not this one's to take, and
    // not to be lost either. The file is kept under another name.
    Result<std::unique_ptr<AppendJournal>> fresh =
        SetJournalAside(path, journal->foreign_records(), *owner);
    if (!fresh.ok()) return fresh.error();
    journal = std::move(*fresh);
  }
  if (Status s = journal->Start(); !s.ok()) return s;
  if (make) journal_ = std::move(journal);
  return {};
}

Result<std::unique_ptr<AppendJournal>> SqliteStore::SetJournalAside(
    const std::string& path, int64_t records, const std::string& owner) {
  std::error_code size_error;
  const auto size = std::filesystem::file_size(path, size_error);
  std::error_code ec;
  std::string aside;
  for (int n = 1;; ++n) {
    aside = fmt::format("{}.other-{}", path, n);
    if (!std::filesystem::exists(aside, ec)) break;
  }
  std::filesystem::rename(path, aside, ec);
  if (ec) {
    return Unavailable(fmt::format(
        "{} holds {} answered webhook(s) of another database, and cannot be "
        "set aside ({}): move it away (with printmeter stopped) to start",
        path, records, ec.message()));
  }
  spdlog::warn("{} held {} answered webhook(s) of another database (not {}, "
               "which was replaced or made anew since): kept as {}, never "
               "moved into this one; a new journal is made",
               path, records, path_, aside);
  AppendJournal::Options options{.owner = owner};
  if (!size_error && size > 0) options.size = static_cast<int64_t>(size);
  return AppendJournal::Open(path, options);
}

void SqliteStore::IndexPending(const Pending& p) {
  for (const std::string& key : p.keys) ++pending_keys_[key];
  for (const DeviceRecord& d : p.devices) {
    auto [it, added] = pending_devices_.try_emplace(d.device, d, 0);
    if (!added && !it->second.first.secret) it->second.first.secret = d.secret;
    ++it->second.second;
  }
}

void SqliteStore::UnindexPending(const Pending& p) {
  for (const std::string& key : p.keys) {
    auto it = pending_keys_.find(key);
    if (it != pending_keys_.end() && --it->second == 0) pending_keys_.erase(it);
  }
  for (const DeviceRecord& d : p.devices) {
    auto it = pending_devices_.find(d.device);
    if (it != pending_devices_.end() && --it->second.second == 0) {
      pending_devices_.erase(it);
    }
  }
}

Status SqliteStore::InsertJournaled(Connection& conn, const journal::Batch& b) {
  for (const DeviceRecord& d : b.devices) {
    auto stored = sqlite::RegisterDevice(conn, d);
    if (!stored.ok()) return stored.error();
  }
  for (const journal::JournaledEvent& j : b.events) {
    Status inserted = sqlite::InsertLoggedEvent(conn, j.record, j.body);
    if (!inserted.ok()) return inserted;
  }
  return {};
}

bool SqliteStore::PendingHasDuplicate(const Event& e) {
  std::optional<std::string> key = DuplicateKey(e);
  if (!key) return false;
  std::lock_guard lock(pending_mutex_);
  return pending_keys_.count(*key) > 0;
}

std::optional<DeviceRecord> SqliteStore::PendingDevice(
    const std::string& device) {
  std::lock_guard lock(pending_mutex_);
  auto it = pending_devices_.find(device);
  if (it == pending_devices_.end()) return std::nullopt;
  return it->second.first;
}

Status SqliteStore::JournalAppend(LogBatch& batch, bool& taken) {
  taken = false;
  if (!batch.decide_duplicates) return {};
  for (const EventRecord& r : batch.events) {
    if (r.event.id != 0) return {};
  }
  // The segment not in use starts over once none of its appends is
  // pending (only this thread adds to pending_).
  {
    const int other = 1 - journal_->active();
    std::lock_guard lock(pending_mutex_);
    if (std::none_of(pending_.begin(), pending_.end(),
                     [other](const auto& p) { return p->segment == other; })) {
      journal_->Release(other);
    }
  }
  auto pending = std::make_shared<Pending>();
  journal::Batch journaled;
  // Registrations, as RegisterDevice would decide them: a secret stored
  // (or pending) first is kept. FindDevices sees the pending ones too.
  std::vector<std::string> names;
  for (const DeviceRecord& d : batch.devices) names.push_back(d.device);
  Result<std::vector<DeviceRecord>> known = FindDevices(names);
  if (!known.ok()) {
    taken = true;
    return Unavailable(
        fmt::format("nothing was stored: {}", known.error().message));
  }
  std::vector<DeviceRecord> lost;
  for (const DeviceRecord& d : batch.devices) {
    auto it = std::find_if(known->begin(), known->end(),
                           [&d](const auto& k) { return k.device == d.device; });
    if (it == known->end()) pending->new_devices.push_back(d.device);
    std::optional<std::string> stored =
        it != known->end() && it->secret ? it->secret : d.secret;
    if (d.secret && stored != d.secret) {
      DeviceRecord winner = d;
      winner.secret = stored;
      lost.push_back(std::move(winner));
    }
    journaled.devices.push_back(d);
  }
  // Ids and duplicates: against the pending appends, then the database.
  std::vector<EventRecord> events = batch.events;
  int64_t next_id = next_event_id_;
  for (size_t i = 0; i < events.size(); ++i) {
    EventRecord& r = events[i];
    if (append_rules::IsLost(lost, r.event.device)) continue;
    r.event.id = next_id++;
    auto dup = append_rules::IsDuplicate(
        events, i, [this](const Event& e) -> Result<bool> {
          if (PendingHasDuplicate(e)) return true;
          return HasDuplicate(e);
        });
    if (!dup.ok()) {
      taken = true;
      return Unavailable(
          fmt::format("nothing was stored: {}", dup.error().message));
    }
    r.duplicate = *dup;
  }
  for (const EventRecord& r : events) {
    if (r.event.id == 0) continue;
    journal::JournaledEvent j;
    j.record.event = r.event;
    j.record.duplicate = r.duplicate;
    j.record.decoder = r.decoder;
    if (r.request) {  // kept compressed only
      j.body = StoredBodyOf(*r.request);
      j.record.request = StoredRequest{r.request->method, r.request->target,
                                       r.request->content_type, std::string(),
                                       r.request->picture};
    }
    pending->events.emplace_back(r.event.id, r.event.received_at);
    if (auto key = DuplicateKey(r.event)) pending->keys.push_back(*key);
    journaled.events.push_back(std::move(j));
  }
  pending->devices = journaled.devices;
  pending->record = journal::Encode(journaled);
  const std::string& record = pending->record;
  if (!journal_->Fits(record.size())) return {};  // into the database
  taken = true;
  Result<int> segment = journal_->Append(record);
  if (!segment.ok() && segment.error().code == ErrorCode::kTooLarge) {
    // Both segments hold appends the projector has not moved yet (it is
    // far behind, or failing): move them here, then go on.
    if (Status moved = MovePending(*writer_); !moved.ok()) {
      return Unavailable(
          fmt::format("nothing was stored: {}", moved.error().message));
    }
    journal_->Release(1 - journal_->active());
    segment = journal_->Append(record);
  }
  if (!segment.ok()) {
    return Unavailable(
        fmt::format("nothing was stored: {}", segment.error().message));
  }
  pending->segment = *segment;
  next_event_id_ = next_id;
  {
    std::lock_guard lock(pending_mutex_);
    IndexPending(*pending);
    pending_.push_back(std::move(pending));
  }
  batch.events = std::move(events);
  batch.lost = std::move(lost);
  return {};
}

Status SqliteStore::MovePending(Connection& conn) {
  std::lock_guard move(move_mutex_);
  std::vector<std::shared_ptr<const Pending>> moving;
  {
    std::lock_guard lock(pending_mutex_);
    moving.assign(pending_.begin(), pending_.end());
  }
  if (moving.empty()) return {};
  Status s = WriteTransaction(conn, /*durable=*/true, [&]() -> Status {
    for (const auto& p : moving) {
      // The bytes the journal holds, read as recovery reads them.
      Result<journal::Batch> batch = journal::Decode(p->record);
      if (!batch.ok()) return batch.error();
      if (Status inserted = InsertJournaled(conn, *batch); !inserted.ok()) {
        return inserted;
      }
    }
    return {};
  });
  if (!s.ok()) return s;
  std::lock_guard lock(pending_mutex_);
  for (const auto& p : moving) UnindexPending(*p);
  pending_.erase(pending_.begin(),
                 pending_.begin() + static_cast<std::ptrdiff_t>(moving.size()));
  return {};
}

}  // namespace pm
