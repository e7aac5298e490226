#include "store/schema.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <span>
#include <string>
#include <utility>

#include "store/sqlite_db.h"

namespace pm::sqlite {
namespace {

// Migration N takes the schema from version N-1 to N. Append only: never edit
// a migration that has shipped.
constexpr const char* kMigration1 = R"sql(
-- Every accepted request, in arrival order (id), as decoded and as received.
CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  device TEXT NOT NULL,
  topic TEXT NOT NULL,
  kind TEXT NOT NULL,
  test INTEGER NOT NULL,
  duplicate INTEGER NOT NULL,
  time INTEGER NOT NULL,
  has_current_time INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  file_name TEXT,
  file_path TEXT,
  file_display TEXT,
  file_origin TEXT,
  file_size INTEGER,
  user TEXT,
  message TEXT,
  reported_time_s REAL,
  reason TEXT,
  progress_pct REAL,
  print_time_s REAL,
  filament_mm REAL,
  filament_cm3 REAL,
  estimated_s REAL,
  error TEXT,
  printing INTEGER,
  paused INTEGER,
  snapshot INTEGER NOT NULL,
  method TEXT,          -- NULL for a synthetic event (no request)
  target TEXT,
  content_type TEXT,
  body BLOB,
  session_id INTEGER
);
CREATE INDEX events_duplicate ON events (device, kind, time);
CREATE INDEX events_foldable ON events (device, time, id)
  WHERE duplicate = 0 AND test = 0;
CREATE INDEX events_device ON events (device, id);
CREATE INDEX events_session ON events (session_id, time, id)
  WHERE session_id IS NOT NULL;

-- Webcam pictures, apart from the events so that scans stay small.
CREATE TABLE snapshots (
  event_id INTEGER PRIMARY KEY REFERENCES events (id),
  content_type TEXT NOT NULL,
  bytes BLOB NOT NULL
);

-- The ledger: derived from the events, deleted and rebuilt by `rebuild`.
-- Clustered by (started_at, id): listing and usage read whole ranges of it.
CREATE TABLE sessions (
  id INTEGER NOT NULL,
  device TEXT NOT NULL,
  status TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  ended_at INTEGER,
  last_event_at INTEGER NOT NULL,
  pauses TEXT NOT NULL,  -- closed pauses: [[begin,end],...] in epoch ms
  pause_started_at INTEGER,
  file_name TEXT,
  file_path TEXT,
  file_display TEXT,
  file_origin TEXT,
  file_size INTEGER,
  user TEXT,             -- as the events tell
  attributed_user TEXT,  -- copy of session_users.user, for filters
  progress_pct REAL,
  reported_time_s REAL,
  estimated_s REAL,
  job_filament_mm REAL,
  job_filament_cm3 REAL,
  error TEXT,
  start_inferred INTEGER NOT NULL,
  end_inferred INTEGER NOT NULL,
  event_count INTEGER NOT NULL,
  snapshot INTEGER NOT NULL,
  opened_by_time INTEGER NOT NULL,
  opened_by_id INTEGER NOT NULL,
  closed_by_time INTEGER,
  closed_by_id INTEGER,
  idle_after INTEGER NOT NULL,
  PRIMARY KEY (started_at, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX sessions_id ON sessions (id);
CREATE INDEX sessions_device ON sessions (device, started_at, id);
CREATE INDEX sessions_user
  ON sessions (coalesce(attributed_user, user), started_at, id);
CREATE INDEX sessions_status ON sessions (status, started_at, id);
CREATE INDEX sessions_opened_by
  ON sessions (device, opened_by_time, opened_by_id);
CREATE INDEX sessions_idle ON sessions (device, closed_by_time, closed_by_id)
  WHERE idle_after = 1;
CREATE INDEX sessions_long ON sessions (started_at)
  WHERE ended_at IS NULL OR ended_at - started_at > 604800000;

CREATE TABLE device_states (
  device TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  open_session_id INTEGER,
  needs_attention INTEGER NOT NULL,
  last_applied_time INTEGER,
  last_applied_id INTEGER,
  last_topic TEXT NOT NULL,
  last_error TEXT
) WITHOUT ROWID;

CREATE TABLE devices (
  device TEXT PRIMARY KEY,
  secret TEXT,
  first_seen INTEGER NOT NULL,
  last_received INTEGER NOT NULL
) WITHOUT ROWID;

-- Manual attribution of a session to a person: not part of the log, kept
-- across `rebuild`.
CREATE TABLE session_users (
  session_id INTEGER PRIMARY KEY,
  user TEXT NOT NULL
);
)sql";

// A page of one printer's sessions of one status, deep in its history: the
// device (or status) index alone walks every session of the printer (of
// the status) newer than the cursor.
constexpr const char* kMigration2 = R"sql(
CREATE INDEX sessions_device_status
  ON sessions (device, status, started_at, id);
)sql";

// The rates each device was priced with over time (ledger.md section 7):
// sessions are priced with the entry in force when they started, so a
// change of rates never re-prices the past. Not derived from the log:
// `rebuild` keeps it.
constexpr const char* kMigration3 = R"sql(
CREATE TABLE rate_history (
  device TEXT NOT NULL,
  effective_from INTEGER NOT NULL,
  rate_per_hour REAL NOT NULL,
  rate_per_m REAL NOT NULL,
  minimum_per_session REAL NOT NULL,
  PRIMARY KEY (device, effective_from)
) WITHOUT ROWID;
)sql";

// The log is the truth; the ledger is a projection of it (ledger.md s. 2).
// A webhook's answer waits for one append to `events` only, so the log
// keeps one index besides its primary key: (device, time), which finds
// duplicates before the answer and a device's events after a refold point.
// Which session an event belongs to is the projection's (event_sessions), so
// that folding never rewrites a logged row; `projection` holds how far the
// fold got, in the same transaction as what it wrote. A picture (the
// multipart `snapshot` part) is cut out of its request's body and stored
// once, apart, in the same append: the log row says what it was (size, type)
// and where it was cut (picture_at); `pictures` holds the bytes, which the
// retention rule may delete without changing what the log says.
constexpr const char* kMigration4 = R"sql(
CREATE TABLE event_sessions (
  event_id INTEGER PRIMARY KEY,
  session_id INTEGER NOT NULL,
  time INTEGER NOT NULL
);
INSERT INTO event_sessions (event_id, session_id, time)
  SELECT id, session_id, time FROM events WHERE session_id IS NOT NULL;
CREATE INDEX event_sessions_session
  ON event_sessions (session_id, time, event_id);

CREATE TABLE projection (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  position INTEGER NOT NULL
);
INSERT INTO projection (id, position)
  SELECT 1, coalesce(max(id), 0) FROM events;

ALTER TABLE events ADD COLUMN picture_at INTEGER;  -- NULL: none cut out
ALTER TABLE events ADD COLUMN picture_size INTEGER;
ALTER TABLE events ADD COLUMN picture_type TEXT;
CREATE TABLE pictures (
  event_id INTEGER PRIMARY KEY,
  device TEXT NOT NULL,
  bytes BLOB NOT NULL
);
CREATE INDEX pictures_device ON pictures (device, event_id);

-- Schema 3 kept each picture twice, in its request and in `snapshots`: it is
-- cut out of the request where it follows its part's headers, and kept once.
UPDATE events SET picture_at = c.at, picture_size = length(c.bytes),
    picture_type = c.content_type
  FROM (SELECT s.event_id, s.content_type, s.bytes,
               instr(CAST(e.body AS BLOB), s.bytes) - 1 AS at
        FROM snapshots s JOIN events e ON e.id = s.event_id
        WHERE length(s.bytes) > 0) AS c
  WHERE events.id = c.event_id AND c.at >= 4 AND
        substr(CAST(events.body AS BLOB), c.at - 3, 4) = X'0D0A0D0A';
INSERT INTO pictures (event_id, device, bytes)
  SELECT s.event_id, e.device, s.bytes
  FROM snapshots s JOIN events e ON e.id = s.event_id
  WHERE e.picture_at IS NOT NULL;
UPDATE events SET body = CAST(
    substr(CAST(body AS BLOB), 1, picture_at) ||
    substr(CAST(body AS BLOB), picture_at + picture_size + 1) AS BLOB)
  WHERE picture_at IS NOT NULL;

DROP TABLE snapshots;
DROP INDEX events_duplicate;
DROP INDEX events_foldable;
DROP INDEX events_device;
DROP INDEX events_session;
ALTER TABLE events DROP COLUMN session_id;
CREATE INDEX events_device_time ON events (device, time);

-- OctoPrint's own estimate of the time left (progress.printTimeLeft): the
-- ETA of a print in progress.
ALTER TABLE events ADD COLUMN print_time_left_s REAL;
ALTER TABLE sessions ADD COLUMN time_left_s REAL;
ALTER TABLE sessions ADD COLUMN time_left_at INTEGER;
)sql";

// Maintenance marks: an item of a printer serviced at done_at, by done_by
// ("" when not said). Not derived from the log: `rebuild` keeps them.
constexpr const char* kMigration5 = R"sql(
CREATE TABLE maintenance_marks (
  device TEXT NOT NULL,
  item TEXT NOT NULL,
  done_at INTEGER NOT NULL,
  done_by TEXT NOT NULL,
  PRIMARY KEY (device, item, done_at)
) WITHOUT ROWID;
)sql";

// Forwarding (forward/forwarder.h): per target, the last event id
// delivered. Derived like the ledger, but kept across `rebuild`.
constexpr const char* kMigration6 = R"sql(
CREATE TABLE forward_positions (
  target TEXT PRIMARY KEY,
  position INTEGER NOT NULL
);
)sql";

// Forwarding's notices (forward/forwarder.h): per target, the keys of the
// `maintenance_due` notices it answered 2xx, so that each crossing is sent
// once across restarts.
constexpr const char* kMigration7 = R"sql(
CREATE TABLE forward_notices (
  target TEXT NOT NULL,
  notice TEXT NOT NULL,
  sent_at INTEGER NOT NULL,
  PRIMARY KEY (target, notice)
) WITHOUT ROWID;
)sql";

// Request bodies compressed (store/stored_body.h): body_size is a body's
// size as received, and a body shorter than it is zlib data. NULL for the
// rows logged before, kept as received.
constexpr const char* kMigration8 = R"sql(
ALTER TABLE events ADD COLUMN body_size INTEGER;
)sql";

// The decoder that read each row (decode.h, DecoderId()), NULL when not
// said (the rows logged before, a copy of them); and up to which event the
// whole log was last checked with one decoder (`rebuild`): a rebuild with
// the same decoder decodes again only the rows after it that another one
// read.
constexpr const char* kMigration9 = R"sql(
ALTER TABLE events ADD COLUMN decoder INTEGER;
CREATE TABLE decoded (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  decoder INTEGER NOT NULL,
  up_to INTEGER NOT NULL
);
)sql";

// Which database an append journal's records are for (append_journal.h):
// a token made once, written into the journal's headers. A journal left
// beside a database that was deleted or replaced holds another token: its
// records are never moved into this one.
constexpr const char* kMigration10 = R"sql(
CREATE TABLE store_identity (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  token TEXT NOT NULL
);
INSERT INTO store_identity (id, token) VALUES (1, lower(hex(randomblob(16))));
)sql";

constexpr std::array<const char*, 10> kMigrations{
    kMigration1, kMigration2, kMigration3, kMigration4, kMigration5,
    kMigration6, kMigration7, kMigration8, kMigration9, kMigration10};

// sessions_long (migration 1) spells the bound out; queries must match it.
static_assert(kLongSessionMs == 604800000);

template <typename Enum, size_t N>
using NameTable = std::array<std::pair<Enum, std::string_view>, N>;

constexpr NameTable<Kind, 10> kKinds{{
    {Kind::kStarted, "started"},
    {Kind::kDone, "done"},
    {Kind::kFailed, "failed"},
    {Kind::kPaused, "paused"},
    {Kind::kResumed, "resumed"},
    {Kind::kProgress, "progress"},
    {Kind::kAttention, "attention"},
    {Kind::kError, "error"},
    {Kind::kOther, "other"},
    {Kind::kSwept, "swept"},
}};

constexpr NameTable<SessionStatus, 7> kStatuses{{
    {SessionStatus::kPrinting, "printing"},
    {SessionStatus::kPaused, "paused"},
    {SessionStatus::kCompleted, "completed"},
    {SessionStatus::kCancelled, "cancelled"},
    {SessionStatus::kFailed, "failed"},
    {SessionStatus::kInterrupted, "interrupted"},
    {SessionStatus::kRestarted, "restarted"},
}};

constexpr NameTable<PrinterState, 3> kPrinterStates{{
    {PrinterState::kIdle, "idle"},
    {PrinterState::kPrinting, "printing"},
    {PrinterState::kPaused, "paused"},
}};

template <typename Enum, size_t N>
std::string_view NameOf(const NameTable<Enum, N>& table, Enum value) {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return table[0].second;
}

template <typename Enum, size_t N>
std::optional<Enum> ValueOf(const NameTable<Enum, N>& table,
                            std::string_view name) {
  for (const auto& [v, n] : table) {
    if (n == name) return v;
  }
  return std::nullopt;
}

Result<int64_t> PragmaInt(Connection& conn, const char* pragma) {
  Result<Statement*> stmt = conn.Prepare(fmt::format("PRAGMA {}", pragma));
  if (!stmt.ok()) return stmt.error();
  Query q(*stmt);
  Result<bool> row = q.Step();
  if (!row.ok()) return row.error();
  return *row ? q.Int() : 0;
}

// Whether the database holds any table, i.e. is not a fresh file.
Result<bool> HasTables(Connection& conn) {
  Result<Statement*> stmt =
      conn.Prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table'");
  if (!stmt.ok()) return stmt.error();
  Query q(*stmt);
  Result<bool> row = q.Step();
  if (!row.ok()) return row.error();
  return *row && q.Int() > 0;
}

Status CheckOwner(Connection& conn, int64_t app_id, int64_t version) {
  Error foreign{ErrorCode::kConflict,
                fmt::format("{} is not a printmeter database (it belongs to "
                            "another program); give --db a new file",
                            conn.path())};
  if (app_id != 0 && app_id != kApplicationId) return foreign;
  if (app_id == 0) {
    Result<bool> has_tables = HasTables(conn);
    if (!has_tables.ok()) return has_tables.error();
    if (*has_tables || version != 0) return foreign;
  }
  if (version > LatestSchemaVersion()) {
    return Error{ErrorCode::kConflict,
                 fmt::format("database {} was written by a newer printmeter "
                             "(schema {}, this build knows {}); upgrade "
                             "printmeter",
                             conn.path(), version, LatestSchemaVersion())};
  }
  return {};
}

Status Apply(Connection& conn, int version) {
  std::string sql = fmt::format(
      "BEGIN IMMEDIATE; {} PRAGMA application_id = {}; PRAGMA user_version = "
      "{}; COMMIT;",
      kMigrations[version - 1], kApplicationId, version);
  Status s = conn.Exec(sql);
  if (!s.ok()) {
    (void)conn.Exec("ROLLBACK");
    return Unavailable(fmt::format("migrating {} to schema {} failed: {}",
                                   conn.path(), version, s.error().message));
  }
  return {};
}

}  // namespace

int LatestSchemaVersion() { return static_cast<int>(kMigrations.size()); }

Status Migrate(Connection& conn) {
  return MigrateTo(conn, LatestSchemaVersion());
}

Status MigrateTo(Connection& conn, int target) {
  Result<int64_t> app_id = PragmaInt(conn, "application_id");
  if (!app_id.ok()) return app_id.error();
  Result<int64_t> version = PragmaInt(conn, "user_version");
  if (!version.ok()) return version.error();
  if (Status s = CheckOwner(conn, *app_id, *version); !s.ok()) return s;
  target = std::min(target, LatestSchemaVersion());
  for (int v = static_cast<int>(*version) + 1; v <= target; ++v) {
    if (Status s = Apply(conn, v); !s.ok()) return s;
  }
  return {};
}

Status CheckReadable(Connection& conn) {
  Result<int64_t> app_id = PragmaInt(conn, "application_id");
  if (!app_id.ok()) return app_id.error();
  Result<int64_t> version = PragmaInt(conn, "user_version");
  if (!version.ok()) return version.error();
  if (Status s = CheckOwner(conn, *app_id, *version); !s.ok()) return s;
  if (*version == 0) {
    return Error{ErrorCode::kConflict,
                 fmt::format("{} is an empty file, not a printmeter database; "
                             "start `printmeter serve --db sqlite:{}` to "
                             "create one, or check the path",
                             conn.path(), conn.path())};
  }
  if (*version < LatestSchemaVersion()) {
    return Error{ErrorCode::kConflict,
                 fmt::format("database {} has schema {} and this printmeter "
                             "reads schema {}; start `printmeter serve` (or "
                             "run `printmeter rebuild`) once to upgrade it",
                             conn.path(), *version, LatestSchemaVersion())};
  }
  return {};
}

std::string_view StoredKind(Kind kind) { return NameOf(kKinds, kind); }
std::optional<Kind> KindFromStored(std::string_view name) {
  return ValueOf(kKinds, name);
}
std::string_view StoredStatus(SessionStatus status) {
  return NameOf(kStatuses, status);
}
std::optional<SessionStatus> StatusFromStored(std::string_view name) {
  return ValueOf(kStatuses, name);
}
std::string_view StoredPrinterState(PrinterState state) {
  return NameOf(kPrinterStates, state);
}
std::optional<PrinterState> PrinterStateFromStored(std::string_view name) {
  return ValueOf(kPrinterStates, name);
}

}  // namespace pm::sqlite
