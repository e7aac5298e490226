#include "store/pg_schema.h"

#include <fmt/format.h>

#include <array>

namespace pm::pg {
namespace {

// Migration N takes the schema from version N-1 to N. Append only: never
// edit a migration that has shipped. The tables are SQLite's schema 4
// (schema.cc; migration 2: its schema 5) in PostgreSQL's types; `user` is a reserved word here, so the
// columns are `user_name`.
constexpr const char* kMigration1 = R"sql(
CREATE TABLE printmeter_schema (version integer NOT NULL);
INSERT INTO printmeter_schema (version) VALUES (0);

-- The last event id handed out. Every append takes this row's lock first
-- and holds it to its commit: ids are committed in increasing order.
CREATE TABLE log_head (
  one boolean PRIMARY KEY DEFAULT true CHECK (one),
  last_id bigint NOT NULL
);
INSERT INTO log_head (one, last_id) VALUES (true, 0);

-- Every accepted request, in log order (id), as decoded and as received.
CREATE TABLE events (
  id bigint PRIMARY KEY,
  device text NOT NULL,
  topic text NOT NULL,
  kind text NOT NULL,
  test boolean NOT NULL,
  time bigint NOT NULL,
  has_current_time boolean NOT NULL,
  received_at bigint NOT NULL,
  file_name text,
  file_path text,
  file_display text,
  file_origin text,
  file_size bigint,
  user_name text,
  message text,
  reported_time_s double precision,
  reason text,
  progress_pct double precision,
  print_time_s double precision,
  filament_mm double precision,
  filament_cm3 double precision,
  estimated_s double precision,
  error text,
  printing boolean,
  paused boolean,
  snapshot boolean NOT NULL,
  print_time_left_s double precision,
  duplicate boolean NOT NULL,
  method text,          -- NULL for a synthetic event (no request)
  target text,
  content_type text,
  body bytea,           -- less the picture's bytes, when picture_size
  picture_at bigint,    -- where in the body the picture's bytes were
  picture_size bigint,
  picture_type text
);
CREATE INDEX events_device_time ON events (device, time);

-- Webcam pictures, stored once, apart from their requests; the retention
-- rule deletes those it does not keep (the log still says what they were).
CREATE TABLE pictures (
  event_id bigint PRIMARY KEY,
  device text NOT NULL,
  bytes bytea NOT NULL
);
CREATE INDEX pictures_device ON pictures (device, event_id);

CREATE TABLE devices (
  device text PRIMARY KEY,
  secret text,
  first_seen bigint NOT NULL,
  last_received bigint NOT NULL
);

-- The ledger: derived from the events, reset and rebuilt by `rebuild`.
CREATE TABLE sessions (
  id bigint PRIMARY KEY,
  device text NOT NULL,
  status text NOT NULL,
  started_at bigint NOT NULL,
  ended_at bigint,
  last_event_at bigint NOT NULL,
  pauses text NOT NULL,
  pause_started_at bigint,
  file_name text,
  file_path text,
  file_display text,
  file_origin text,
  file_size bigint,
  user_name text,
  attributed_user text,
  progress_pct double precision,
  reported_time_s double precision,
  estimated_s double precision,
  job_filament_mm double precision,
  job_filament_cm3 double precision,
  error text,
  start_inferred boolean NOT NULL,
  end_inferred boolean NOT NULL,
  event_count bigint NOT NULL,
  snapshot boolean NOT NULL,
  opened_by_time bigint NOT NULL,
  opened_by_id bigint NOT NULL,
  closed_by_time bigint,
  closed_by_id bigint,
  idle_after boolean NOT NULL,
  time_left_s double precision,
  time_left_at bigint
);
CREATE INDEX sessions_started ON sessions (started_at, id);
CREATE INDEX sessions_device ON sessions (device, started_at, id);
CREATE INDEX sessions_device_status
  ON sessions (device, status, started_at, id);
CREATE INDEX sessions_user
  ON sessions ((coalesce(attributed_user, user_name)), started_at, id);
CREATE INDEX sessions_status ON sessions (status, started_at, id);
CREATE INDEX sessions_opened_by
  ON sessions (device, opened_by_time, opened_by_id);
CREATE INDEX sessions_idle ON sessions (device, closed_by_time, closed_by_id)
  WHERE idle_after;
CREATE INDEX sessions_long ON sessions (started_at)
  WHERE ended_at IS NULL OR ended_at - started_at > 604800000;

CREATE TABLE device_states (
  device text PRIMARY KEY,
  state text NOT NULL,
  open_session_id bigint,
  needs_attention boolean NOT NULL,
  last_applied_time bigint,
  last_applied_id bigint,
  last_topic text NOT NULL,
  last_error text
);

CREATE TABLE event_sessions (
  event_id bigint PRIMARY KEY,
  session_id bigint NOT NULL,
  time bigint NOT NULL
);
CREATE INDEX event_sessions_session
  ON event_sessions (session_id, time, event_id);

-- How far the fold got, written with what it wrote.
CREATE TABLE projection (
  one boolean PRIMARY KEY DEFAULT true CHECK (one),
  position bigint NOT NULL
);
INSERT INTO projection (one, position) VALUES (true, 0);

-- Apart from the log: kept across `rebuild`.
CREATE TABLE session_users (
  session_id bigint PRIMARY KEY,
  user_name text NOT NULL
);
CREATE TABLE rate_history (
  device text NOT NULL,
  effective_from bigint NOT NULL,
  rate_per_hour double precision NOT NULL,
  rate_per_m double precision NOT NULL,
  minimum_per_session double precision NOT NULL,
  PRIMARY KEY (device, effective_from)
);
)sql";

// Maintenance marks, as SQLite's schema 5: apart from the log.
constexpr const char* kMigration2 = R"sql(
CREATE TABLE maintenance_marks (
  device text NOT NULL,
  item text NOT NULL,
  done_at bigint NOT NULL,
  done_by text NOT NULL,
  PRIMARY KEY (device, item, done_at)
);
)sql";

// Forwarding (forward/forwarder.h): per target, the last event id
// delivered, updated with a compare-and-set by each instance.
constexpr const char* kMigration3 = R"sql(
CREATE TABLE forward_positions (
  target text PRIMARY KEY,
  position bigint NOT NULL
);
)sql";

// Forwarding's notices (forward/forwarder.h): per target, the keys of the
// `maintenance_due` notices it answered 2xx, so that each crossing is sent
// once across restarts and instances.
constexpr const char* kMigration4 = R"sql(
CREATE TABLE forward_notices (
  target text NOT NULL,
  notice text NOT NULL,
  sent_at bigint NOT NULL,
  PRIMARY KEY (target, notice)
);
)sql";

// The decoder that read each row (decode.h, DecoderId()), NULL when not
// said; and up to which event the whole log was last checked with one
// decoder (`rebuild`), as on SQLite.
constexpr const char* kMigration5 = R"sql(
ALTER TABLE events ADD COLUMN decoder bigint;
CREATE TABLE decoded (
  id integer PRIMARY KEY CHECK (id = 1),
  decoder bigint NOT NULL,
  up_to bigint NOT NULL
);
)sql";

constexpr std::array<const char*, 5> kMigrations{
    kMigration1, kMigration2, kMigration3, kMigration4, kMigration5};

// Taken by every instance that migrates, for the migration's transaction:
// instances starting together apply each migration once.
constexpr int64_t kMigrationLock = 0x7072696e746d7472;  // "printmtr"

Result<int> StoredVersion(Connection& conn) {
  auto exists = conn.Exec(
      "SELECT to_regclass('printmeter_schema') IS NOT NULL, "
      "(SELECT count(*) FROM pg_tables WHERE schemaname = "
      "current_schema())");
  if (!exists.ok()) return exists.error();
  auto row = exists->row(0);
  bool ours = row.Bool();
  int64_t tables = row.Int();
  if (!ours) {
    if (tables > 0) {
      return Error{ErrorCode::kConflict,
                   fmt::format("the database at {} holds tables of another "
                               "program; give printmeter a database of its "
                               "own (CREATE DATABASE printmeter)",
                               conn.where())};
    }
    return 0;
  }
  auto version = conn.Exec("SELECT max(version) FROM printmeter_schema");
  if (!version.ok()) return version.error();
  return static_cast<int>(version->row(0).Int());
}

}  // namespace

int LatestSchemaVersion() { return static_cast<int>(kMigrations.size()); }

Status Migrate(Connection& conn) {
  if (Status s = conn.Script("BEGIN"); !s.ok()) return s;
  auto fail = [&](Error e) -> Status {
    (void)conn.Script("ROLLBACK");
    return e;
  };
  auto locked = conn.Exec("SELECT pg_advisory_xact_lock($1)",
                          std::move(Params().Bind(kMigrationLock)));
  if (!locked.ok()) return fail(locked.error());
  auto version = StoredVersion(conn);
  if (!version.ok()) return fail(version.error());
  if (*version > LatestSchemaVersion()) {
    return fail(Error{
        ErrorCode::kConflict,
        fmt::format("the database at {} was written by a newer printmeter "
                    "(schema {}, this build knows {}); upgrade printmeter",
                    conn.where(), *version, LatestSchemaVersion())});
  }
  for (int v = *version + 1; v <= LatestSchemaVersion(); ++v) {
    if (Status s = conn.Script(kMigrations[v - 1]); !s.ok()) {
      return fail(Unavailable(fmt::format(
          "migrating the database at {} to schema {} failed: {}",
          conn.where(), v, s.error().message)));
    }
    auto set = conn.Exec("UPDATE printmeter_schema SET version = $1",
                         std::move(Params().Bind(v)));
    if (!set.ok()) return fail(set.error());
  }
  return conn.Script("COMMIT");
}

}  // namespace pm::pg
