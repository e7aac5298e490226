// The SQLite schema: numbered migrations, applied in order, with the version
// kept in the file (PRAGMA user_version) as ninja keeps `# ninja log v%d`.
// A printmeter database is marked with its own application_id so that some
// other program's SQLite file is never mistaken for one.
#pragma once

#include <optional>
#include <string_view>

#include "common/result.h"
#include "decode/event.h"
#include "ledger/session.h"

namespace pm::sqlite {

class Connection;

// PRAGMA application_id of a printmeter database ("PMTR").
constexpr int kApplicationId = 0x504D5452;

// The schema version this build writes: the number of the last migration.
int LatestSchemaVersion();

// Brings the database on `conn` to LatestSchemaVersion(), one transaction per
// migration. Refuses (kConflict) a database written by a newer printmeter and
// a SQLite file that is not printmeter's.
Status Migrate(Connection& conn);
// For readers, which never migrate: ok when the database is printmeter's
// and at LatestSchemaVersion(); kConflict naming what to do otherwise (an
// older schema: start `serve` once; a newer one: upgrade printmeter).
Status CheckReadable(Connection& conn);
// Migrate() up to `version` only (at most the latest): for tests that need a
// database as an older printmeter left it.
Status MigrateTo(Connection& conn, int version);

// Sessions longer than this are kept in a small partial index so that
// overlap queries can bound their scan by started_at (see sqlite_store.cc).
constexpr int64_t kLongSessionMs = 7 * 24 * 3600 * 1000LL;

// The names enums are stored under. They are the store's own so that a change
// of display name never breaks an existing database.
std::string_view StoredKind(Kind kind);
std::optional<Kind> KindFromStored(std::string_view name);
std::string_view StoredStatus(SessionStatus status);
std::optional<SessionStatus> StatusFromStored(std::string_view name);
std::string_view StoredPrinterState(PrinterState state);
std::optional<PrinterState> PrinterStateFromStored(std::string_view name);

}  // namespace pm::sqlite
