// OpenStore: URL forms, file creation, schema versions and migrations.
#include "store/store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

#include "store/schema.h"
#include "store/sqlite_db.h"
#include "store/sqlite_store.h"
#include "store/store_test_util.h"
#include "store/write_batch.h"

namespace pm {
namespace {

using ::testing::HasSubstr;
using testing::MustOpen;
using testing::TempDir;

// Runs `sql` on the file directly, as another program would.
int64_t RawInt(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  int64_t v = -1;
  if (sqlite3_step(stmt) == SQLITE_ROW) v = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return v;
}

void RawExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
}

std::string QueryPlan(const std::string& path, const std::string& sql);

TEST(OpenStoreTest, CreatesAMissingFileInWalModeAtTheLatestSchema) {
  TempDir dir;
  std::string path = dir.File("new.db");
  ASSERT_NE(MustOpen(path), nullptr);
  EXPECT_EQ(RawInt(path, "PRAGMA user_version"), sqlite::LatestSchemaVersion());
  EXPECT_EQ(RawInt(path, "PRAGMA application_id"), sqlite::kApplicationId);
  EXPECT_EQ(RawInt(path,
                   "SELECT count(*) FROM pragma_journal_mode "
                   "WHERE journal_mode = 'wal'"),
            1);
  EXPECT_EQ(RawInt(path,
                   "SELECT count(*) FROM sqlite_schema WHERE name IN "
                   "('events', 'sessions', 'device_states', 'devices', "
                   "'session_users', 'event_sessions', 'projection', "
                   "'rate_history')"),
            8);
  // The picture is stored once, apart from its request.
  EXPECT_EQ(RawInt(path,
                   "SELECT count(*) FROM sqlite_schema WHERE name = "
                   "'snapshots'"),
            0);
  EXPECT_EQ(RawInt(path,
                   "SELECT count(*) FROM sqlite_schema WHERE name = "
                   "'pictures'"),
            1);
}

// The log keeps one index besides its primary key; every statement of the
// write path and the projector uses an index (or the primary key), none
// scans a table.
TEST(OpenStoreTest, TheLogHasOneIndexAndEveryWritePathStatementUsesOne) {
  TempDir dir;
  std::string path = dir.File("plans.db");
  ASSERT_NE(MustOpen(path), nullptr);
  EXPECT_EQ(RawInt(path,
                   "SELECT count(*) FROM sqlite_schema WHERE type = 'index' "
                   "AND tbl_name = 'events' AND sql IS NOT NULL"),
            1);
  struct Case {
    const char* what;
    const char* sql;
    const char* index;
  };
  const Case cases[] = {
      {"duplicate", "SELECT 1 FROM events WHERE device = 'd' AND time = 1 AND "
                    "kind = 'done' AND has_current_time = 1 AND file_path IS "
                    "NULL AND reported_time_s IS NULL LIMIT 1",
       "events_device_time"},
      {"foldable after a point",
       "SELECT id FROM events WHERE device = 'd' AND id <= 9 AND duplicate = 0 "
       "AND test = 0 AND (time, id) > (1, 2) ORDER BY time, id",
       "events_device_time"},
      {"the log after the position",
       "SELECT id FROM events WHERE id > 5 ORDER BY id LIMIT 10",
       "INTEGER PRIMARY KEY"},
      {"a session's events",
       "SELECT e.id FROM event_sessions l JOIN events e ON e.id = l.event_id "
       "WHERE l.session_id = 3 AND (l.time, l.event_id) > (1, 2) ORDER BY "
       "l.time, l.event_id LIMIT 100",
       "event_sessions_session"},
      {"a re-fold's sessions",
       "DELETE FROM sessions WHERE device = 'd' AND (opened_by_time, "
       "opened_by_id) > (1, 2)",
       "sessions_opened_by"},
      {"a printer's latest picture",
       "SELECT p.event_id, l.session_id, e.time FROM pictures p JOIN events e "
       "ON e.id = p.event_id LEFT JOIN event_sessions l ON l.event_id = "
       "p.event_id WHERE p.device = 'd' AND p.event_id <= 9 ORDER BY "
       "p.event_id DESC LIMIT 1",
       "pictures_device"},
      {"a session's pictures",
       "SELECT l.event_id, l.session_id, l.time FROM event_sessions l CROSS "
       "JOIN pictures p ON p.event_id = l.event_id WHERE l.session_id = 3 AND "
       "l.event_id <= 9 AND p.device = 'd'",
       "event_sessions_session"},
      {"the last idle session",
       "SELECT id FROM sessions s WHERE s.device = 'd' AND s.idle_after = 1 "
       "AND (s.closed_by_time, s.closed_by_id) < (1, 2) ORDER BY "
       "s.closed_by_time DESC, s.closed_by_id DESC LIMIT 1",
       "sessions_idle"},
  };
  for (const Case& c : cases) {
    std::string plan = QueryPlan(path, c.sql);
    EXPECT_THAT(plan, HasSubstr(c.index)) << c.what;
    EXPECT_THAT(plan, ::testing::Not(HasSubstr("SCAN"))) << c.what << ": " << plan;
  }
}

// Schema 4 moves the event -> session links out of the log and drops the
// pictures' second copy; a database of schema 3 keeps its links and its
// projection position starts at its last event.
TEST(OpenStoreTest, MigratesASchema3DatabaseKeepingItsLinks) {
  TempDir dir;
  std::string path = dir.File("v3.db");
  {
    auto conn = sqlite::Connection::Open(path, true);
    ASSERT_TRUE(conn.ok());
    ASSERT_TRUE(sqlite::MigrateTo(**conn, 3).ok());
  }
  RawExec(path,
          "INSERT INTO events (id, device, topic, kind, test, duplicate, time, "
          "has_current_time, received_at, snapshot, method, target, "
          "content_type, body, session_id) VALUES "
          "(1, 'delta', 'Print Started', 'started', 0, 0, 1000, 1, 1000, 0, "
          "'POST', '/webhook', 'application/json', '{}', 1), "
          "(2, 'delta', 'Print Done', 'done', 0, 0, 2000, 1, 2000, 0, "
          "'POST', '/webhook', 'application/json', '{}', 1)");
  RawExec(path,
          "INSERT INTO sessions (id, device, status, started_at, ended_at, "
          "last_event_at, pauses, start_inferred, end_inferred, event_count, "
          "snapshot, opened_by_time, opened_by_id, closed_by_time, "
          "closed_by_id, idle_after) VALUES (1, 'delta', 'completed', 1000, "
          "2000, 2000, '[]', 0, 0, 2, 0, 1000, 1, 2000, 2, 1)");
  auto store = MustOpen(path);
  ASSERT_NE(store, nullptr);
  auto events = store->SessionEvents(1);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].event.id, 1);
  EXPECT_EQ((*events)[1].session_id, 1);
  auto position = store->ProjectedPosition();
  ASSERT_TRUE(position.ok());
  EXPECT_EQ(*position, 2);
  auto lag = store->Lag();
  ASSERT_TRUE(lag.ok());
  EXPECT_EQ(lag->events(), 0);
}

std::string Hex(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) out += fmt::format("{:02X}", c);
  return out;
}

// Schema 3 kept a picture twice, in its request and in `snapshots`: schema 4
// cuts it out of the request and keeps it once, apart, the same picture.
TEST(OpenStoreTest, MigratesASchema3PictureToBeStoredOnce) {
  TempDir dir;
  std::string path = dir.File("v3-picture.db");
  {
    auto conn = sqlite::Connection::Open(path, true);
    ASSERT_TRUE(conn.ok());
    ASSERT_TRUE(sqlite::MigrateTo(**conn, 3).ok());
  }
  std::string jpeg("\xff\xd8\xff\xe0\x00\r\n--b\x00\xff\xd9", 13);
  std::string body =
      "--b\r\nContent-Disposition: form-data; name=\"deviceIdentifier\"\r\n"
      "\r\ndelta\r\n--b\r\nContent-Disposition: form-data; "
      "name=\"topic\"\r\n\r\nPrint Done\r\n--b\r\nContent-Disposition: "
      "form-data; name=\"snapshot\"; filename=\"snapshot.jpg\"\r\n"
      "Content-Type: image/jpeg\r\n\r\n" +
      jpeg + "\r\n--b--\r\n";
  RawExec(path,
          fmt::format(
              "INSERT INTO events (id, device, topic, kind, test, duplicate, "
              "time, has_current_time, received_at, snapshot, method, target, "
              "content_type, body) VALUES (1, 'delta', 'Print Done', 'done', "
              "0, 0, 1000, 1, 1000, 1, 'POST', '/webhook', "
              "'multipart/form-data; boundary=b', X'{}'); "
              "INSERT INTO snapshots (event_id, content_type, bytes) VALUES "
              "(1, 'image/jpeg', X'{}')",
              Hex(body), Hex(jpeg)));
  auto store = MustOpen(path);
  ASSERT_NE(store, nullptr);
  auto snapshot = store->GetSnapshot(1);
  ASSERT_TRUE(snapshot.ok()) << snapshot.error().message;
  ASSERT_TRUE(snapshot->has_value());
  EXPECT_EQ((*snapshot)->bytes, jpeg);
  EXPECT_EQ((*snapshot)->content_type, "image/jpeg");
  std::vector<EventRecord> records;
  ASSERT_TRUE(store
                  ->ForEachEvent([&](const EventRecord& r) -> Status {
                    records.push_back(r);
                    return {};
                  })
                  .ok());
  ASSERT_EQ(records.size(), 1u);
  const StoredRequest& stored = *records[0].request;
  ASSERT_TRUE(stored.picture.has_value());
  std::string whole = stored.body;
  whole.insert(static_cast<size_t>(stored.picture->offset), jpeg);
  EXPECT_EQ(whole, body);
  EXPECT_EQ(RawInt(path, "SELECT length(body) FROM events WHERE id = 1"),
            static_cast<int64_t>(body.size() - jpeg.size()));
}

// Every index SQLite would use for `sql` (EXPLAIN QUERY PLAN details).
std::string QueryPlan(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  std::string plan;
  EXPECT_EQ(sqlite3_prepare_v2(db, ("EXPLAIN QUERY PLAN " + sql).c_str(), -1,
                               &stmt, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    plan += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3));
    plan += "\n";
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return plan;
}

// Every table and index as the schema has it, one line each.
std::string SchemaText(const std::string& path) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db,
                               "SELECT type || ' ' || name || ' ' || "
                               "coalesce(sql, '') FROM sqlite_schema ORDER BY "
                               "type, name",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  std::string text;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    text += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    text += "\n";
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return text;
}

// `rebuild` replaces the ledger a part at a time, its indexes dropped and
// made again, each session written once: the schema, every session's latest
// version, each link's time and the attributions come out as row-by-row
// upserts left them.
TEST(ProjectionResetTest, ReplacesTheLedgerKeepingEveryIndexAndAttribution) {
  TempDir dir;
  std::string path = dir.File("reset.db");
  auto store = MustOpen(path);
  ASSERT_NE(store, nullptr);
  WriteBatch log;
  for (int64_t id = 1; id <= 6; ++id) {
    Event e = testing::BareEvent(id, id <= 3 ? "a" : "b", Kind::kStarted,
                                 1'700'000'000'000 + id * 1000);
    log.events.push_back(testing::Record(e));
  }
  log.sessions = {testing::BareSession(2, "a", 1'700'000'001'000, std::nullopt)};
  log.event_sessions = {{1, 2}};
  ASSERT_TRUE(CommitBatch(*store, log).ok());
  ASSERT_TRUE(store->SetSessionUser(2, "grace").ok());
  const std::string schema = SchemaText(path);
  ASSERT_THAT(schema, HasSubstr("index sessions_device_status"));

  // Two parts, a printer each; "a" with two versions of session 2.
  LedgerPart part_a;
  Session first = testing::BareSession(2, "a", 1'700'000'001'000,
                                       1'700'000'003'000);
  Session moved = first;  // a later version of session 2, started later
  moved.started_at = 1'700'000'002'000;
  moved.event_count = 2;
  part_a.sessions = {first, moved};
  DeviceState a;
  a.device = "a";
  part_a.device_states = {a};
  // The last link of an event wins.
  part_a.links = {{1, 2, 1'700'000'001'000}, {2, 2, 1'700'000'002'000},
                  {3, 9, 1'700'000'003'000}, {3, 2, 1'700'000'003'000}};
  LedgerPart part_b;
  part_b.sessions = {testing::BareSession(3, "b", 1'700'000'004'000,
                                          1'700'000'005'000)};
  Session open = testing::BareSession(4, "b", 1'700'000'006'000, std::nullopt);
  part_b.sessions.push_back(open);
  open.event_count = 5;  // the state's version of the open session is newer
  DeviceState b;
  b.device = "b";
  b.state = PrinterState::kPrinting;
  b.open = open;
  part_b.device_states = {b};
  part_b.links = {{4, 3, 1'700'000'004'000}, {5, 3, 1'700'000'005'000},
                  {6, 4, 1'700'000'006'000}};
  auto rewrite = store->RewriteLedger();
  ASSERT_TRUE(rewrite.ok()) << rewrite.error().message;
  ASSERT_TRUE((*rewrite)->Add(part_a).ok());
  ASSERT_TRUE((*rewrite)->Add(part_b).ok());
  // Until the commit, readers see the old ledger.
  auto before = store->GetSession(2);
  ASSERT_TRUE(before.ok() && *before);
  EXPECT_EQ((*before)->started_at, 1'700'000'001'000);
  auto three = store->GetSession(3);
  ASSERT_TRUE(three.ok());
  EXPECT_FALSE(three->has_value());
  Status committed = (*rewrite)->Commit(6);
  ASSERT_TRUE(committed.ok()) << committed.error().message;
  EXPECT_FALSE((*rewrite)->Commit(6).ok());  // once
  rewrite->reset();


  EXPECT_EQ(SchemaText(path), schema);
  EXPECT_EQ(RawInt(path, "SELECT count(*) FROM sessions"), 3);
  auto two = store->GetSession(2);
  ASSERT_TRUE(two.ok() && *two);
  EXPECT_EQ((*two)->started_at, moved.started_at);
  EXPECT_EQ((*two)->event_count, 2);
  EXPECT_EQ((*two)->user, "grace");
  auto four = store->GetSession(4);
  ASSERT_TRUE(four.ok() && *four);
  EXPECT_EQ((*four)->event_count, 5);
  // Each link once, with its time.
  EXPECT_EQ(RawInt(path, "SELECT count(*) FROM event_sessions"), 6);
  EXPECT_EQ(RawInt(path,
                   "SELECT count(*) FROM event_sessions l JOIN events e ON "
                   "e.id = l.event_id WHERE l.time = e.time"),
            6);
  EXPECT_EQ(RawInt(path,
                   "SELECT session_id FROM event_sessions WHERE event_id = 5"),
            3);
  EXPECT_EQ(RawInt(path,
                   "SELECT session_id FROM event_sessions WHERE event_id = 3"),
            2);
  auto states = store->LoadDeviceStates();
  ASSERT_TRUE(states.ok());
  ASSERT_EQ(states->size(), 2u);
  EXPECT_EQ(RawInt(path, "SELECT count(*) FROM pragma_integrity_check "
                         "WHERE integrity_check = 'ok'"),
            1);
  EXPECT_EQ(RawInt(path, "SELECT position FROM projection"), 6);
}

TEST(OpenStoreTest, MigratesASchema1DatabaseKeepingItsData) {
  TempDir dir;
  Session session =
      testing::BareSession(7, "delta", 1718000000000, 1718003600000);
  session.status = SessionStatus::kFailed;
  // The file as the first release left it, with a session in it.
  std::string old_path = dir.File("v1-with-data.db");
  {
    auto conn = sqlite::Connection::Open(old_path, true);
    ASSERT_TRUE(conn.ok());
    ASSERT_TRUE(sqlite::MigrateTo(**conn, 1).ok());
  }
  ASSERT_EQ(RawInt(old_path, "PRAGMA user_version"), 1);
  ASSERT_EQ(RawInt(old_path,
                   "SELECT count(*) FROM sqlite_schema WHERE name = "
                   "'sessions_device_status'"),
            0);
  RawExec(old_path,
          "INSERT INTO sessions (id, device, status, started_at, ended_at, "
          "last_event_at, pauses, start_inferred, end_inferred, event_count, "
          "snapshot, opened_by_time, opened_by_id, closed_by_time, "
          "closed_by_id, idle_after) VALUES (7, 'delta', 'failed', "
          "1718000000000, 1718003600000, 1718003600000, '[]', 0, 0, 1, 0, "
          "1718000000000, 7, 1718003600000, 8, 0)");
  auto store = MustOpen(old_path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(RawInt(old_path, "PRAGMA user_version"),
            sqlite::LatestSchemaVersion());
  auto got = store->GetSession(7);
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, session);
  // A deep page of one printer's failed prints reads through the new index.
  SessionPageQuery q;
  q.filter.device = "delta";
  q.filter.status = SessionStatus::kFailed;
  q.after = std::make_pair(TimeMs{1718000000001}, int64_t{100});
  auto page = store->ListSessions(q);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ(page->front().id, 7);
  EXPECT_THAT(QueryPlan(old_path,
                        "SELECT id FROM sessions s WHERE s.device = 'delta' "
                        "AND s.status = 'failed' AND (s.started_at, s.id) < "
                        "(1, 2) ORDER BY s.started_at DESC, s.id DESC LIMIT "
                        "100"),
              HasSubstr("sessions_device_status"));
}

TEST(OpenStoreTest, RefusesADatabaseFromANewerPrintmeter) {
  TempDir dir;
  std::string path = dir.File("future.db");
  ASSERT_NE(MustOpen(path), nullptr);
  int future = sqlite::LatestSchemaVersion() + 3;
  RawExec(path, "PRAGMA user_version = " + std::to_string(future));
  Result<std::unique_ptr<Store>> store = OpenStore("sqlite:" + path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kConflict);
  EXPECT_EQ(store.error().message,
            "database " + path + " was written by a newer printmeter (schema " +
                std::to_string(future) + ", this build knows " +
                std::to_string(sqlite::LatestSchemaVersion()) +
                "); upgrade printmeter");
  // Refusing leaves the file as it was.
  EXPECT_EQ(RawInt(path, "PRAGMA user_version"), future);
}

TEST(OpenStoreTest, RefusesAnotherProgramsDatabase) {
  TempDir dir;
  std::string path = dir.File("other.db");
  RawExec(path, "CREATE TABLE photos (id INTEGER PRIMARY KEY)");
  Result<std::unique_ptr<Store>> store = OpenStore("sqlite:" + path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kConflict);
  EXPECT_THAT(store.error().message, HasSubstr("is not a printmeter database"));
  EXPECT_EQ(RawInt(path, "SELECT count(*) FROM sqlite_schema"), 1);
}

TEST(OpenStoreTest, ReopeningKeepsDataAndTheVersion) {
  TempDir dir;
  std::string path = dir.File("keep.db");
  {
    std::unique_ptr<Store> store = MustOpen(path);
    WriteBatch batch;
    batch.events.push_back(
        testing::Record(testing::BareEvent(1, "delta", Kind::kStarted, 1000)));
    batch.devices.push_back({"delta", "s3cret", 5, 6});
    ASSERT_TRUE(CommitBatch(*store, batch).ok());
  }
  std::unique_ptr<Store> store = MustOpen(path);
  Result<std::vector<DeviceRecord>> devices = store->LoadDevices();
  ASSERT_TRUE(devices.ok());
  ASSERT_EQ(devices->size(), 1u);
  EXPECT_EQ((*devices)[0].secret, "s3cret");
  Result<std::vector<EventView>> events = store->ListEvents({});
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  // Ids continue after the highest stored one.
  Result<int64_t> next = store->AllocateEventIds(1);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, 2);
  EXPECT_EQ(RawInt(path, "PRAGMA user_version"), sqlite::LatestSchemaVersion());
}

TEST(OpenStoreTest, AnOpenSessionMissingFromTheLedgerIsReported) {
  TempDir dir;
  std::string path = dir.File("damaged.db");
  {
    std::unique_ptr<Store> store = MustOpen(path);
    WriteBatch batch;
    DeviceState state;
    state.device = "delta";
    state.state = PrinterState::kPrinting;
    state.open = testing::BareSession(4, "delta", 1000, std::nullopt);
    batch.device_states.push_back(state);
    ASSERT_TRUE(CommitBatch(*store, batch).ok());
  }
  RawExec(path, "DELETE FROM sessions");
  std::unique_ptr<Store> store = MustOpen(path);
  Result<std::vector<DeviceState>> states = store->LoadDeviceStates();
  ASSERT_FALSE(states.ok());
  EXPECT_THAT(states.error().message,
              HasSubstr("device delta refers to session 4, which is missing"));
  EXPECT_THAT(states.error().message, HasSubstr("printmeter rebuild"));
}

TEST(OpenStoreTest, UnwritablePathNamesThePathAndTheReason) {
  TempDir dir;
  std::string file = dir.File("plain-file");
  std::ofstream(file) << "not a directory";
  std::string path = file + "/printmeter.db";
  Result<std::unique_ptr<Store>> store = OpenStore("sqlite:" + path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(store.error().message, HasSubstr(path));
  EXPECT_THAT(store.error().message, HasSubstr("Not a directory"));

  std::string missing = dir.File("no/such/dir/printmeter.db");
  store = OpenStore("sqlite:" + missing);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.error().message, HasSubstr(missing));
  EXPECT_THAT(store.error().message, HasSubstr("No such file or directory"));
}

// Nothing listens on the port: unavailable, naming the server (never its
// password) and what to check.
TEST(OpenStoreTest, AnUnreachablePostgresqlIsNamedWithoutItsPassword) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  Result<std::unique_ptr<Store>> store = OpenStore(fmt::format(
      "postgresql://pm:s3cretpw@127.0.0.1:{}/printmeter", port));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(store.error().message,
              HasSubstr(fmt::format("127.0.0.1:{}/printmeter", port)));
  EXPECT_THAT(store.error().message, HasSubstr("check that the server runs"));
  EXPECT_THAT(store.error().message,
              ::testing::Not(HasSubstr("s3cretpw")));
}

TEST(RedactedUrlTest, APostgresqlPasswordIsNeverShown) {
  EXPECT_EQ(RedactedUrl("postgresql://pm:s3cret@db.local:5432/printmeter"),
            "postgresql://pm:****@db.local:5432/printmeter");
  EXPECT_EQ(RedactedUrl("postgres://pm:p%40ss:w@db/x?sslmode=require"),
            "postgres://pm:****@db/x?sslmode=require");
  EXPECT_EQ(RedactedUrl("postgresql://db/x?user=pm&password=s3cret&a=b"),
            "postgresql://db/x?user=pm&password=****&a=b");
  EXPECT_EQ(RedactedUrl("postgresql://pm@db/x"), "postgresql://pm@db/x");
  EXPECT_EQ(RedactedUrl("sqlite:/var/lib/p:w@x.db"), "sqlite:/var/lib/p:w@x.db");
  // A mistyped scheme is redacted too.
  EXPECT_EQ(RedactedUrl("postgressql://pm:s3cret@db/x"),
            "postgressql://pm:****@db/x");
}

TEST(OpenStoreTest, BadUrlsSayWhichFormsAreAccepted) {
  for (const char* url : {"printmeter.db", "mysql://x", "sqlite:", ""}) {
    Result<std::unique_ptr<Store>> store = OpenStore(url);
    ASSERT_FALSE(store.ok()) << url;
    EXPECT_EQ(store.error().code, ErrorCode::kInvalid) << url;
    EXPECT_THAT(store.error().message, HasSubstr("sqlite:PATH")) << url;
    EXPECT_THAT(store.error().message, HasSubstr("postgresql://")) << url;
  }
  // A bare file name: the message says how to give it.
  Result<std::unique_ptr<Store>> bare = OpenStore("printmeter.db");
  ASSERT_FALSE(bare.ok());
  EXPECT_THAT(bare.error().message, HasSubstr("give sqlite:printmeter.db"));
  // A mistyped scheme's password is never repeated.
  Result<std::unique_ptr<Store>> typo = OpenStore("postgress://pm:s3cret@db/x");
  ASSERT_FALSE(typo.ok());
  EXPECT_THAT(typo.error().message, ::testing::Not(HasSubstr("s3cret")));
  EXPECT_THAT(typo.error().message, HasSubstr("postgress://pm:****@db/x"));
  Result<std::unique_ptr<Store>> memory = OpenStore("sqlite::memory:");
  ASSERT_FALSE(memory.ok());
  EXPECT_EQ(memory.error().code, ErrorCode::kInvalid);
}

// A step's open session is written once when batch.sessions holds it as the
// state has it; any other open session (a newer version, or one the step
// did not touch) is written from the state.
TEST(OpenSessionsToWriteTest, WritesTheStatesOpenSessionsNotAlreadyInTheBatch) {
  auto session = [](int64_t id, double progress) {
    Session s;
    s.id = id;
    s.device = fmt::format("p{}", id);
    s.status = SessionStatus::kPrinting;
    s.progress_pct = progress;
    return s;
  };
  auto state = [](std::optional<Session> open) {
    DeviceState d;
    d.device = open ? open->device : "idle";
    d.open = std::move(open);
    return d;
  };
  ProjectionBatch batch;
  batch.sessions = {session(1, 10), session(2, 20), session(3, 30)};
  batch.device_states = {
      state(session(1, 10)),  // as in the batch: written there
      state(session(2, 25)),  // newer than the batch's: written again
      state(session(4, 40)),  // not touched by the step: written
      state(std::nullopt),    // idle: nothing
  };
  std::vector<int64_t> written;
  for (const Session* s : OpenSessionsToWrite(batch)) {
    written.push_back(s->id);
    if (s->id == 2) {
      EXPECT_EQ(s->progress_pct, 25);
    }
  }
  EXPECT_EQ(written, (std::vector<int64_t>{2, 4}));

  EXPECT_TRUE(OpenSessionsToWrite(ProjectionBatch{}).empty());
}

}  // namespace
}  // namespace pm

namespace pm {
namespace {

// When the background checkpoint runs (sqlite_store.h), row by row.
TEST(CheckpointScheduleTest, DueOnceEnoughFramesCameOrAfterAWhileWithAny) {
  using sqlite::CheckpointSchedule;
  using std::chrono::seconds;
  constexpr int64_t kN = CheckpointSchedule::kFrames;
  const auto kLong = CheckpointSchedule::kAfter;
  struct Row {
    const char* what;
    int64_t frames, seen;
    std::chrono::steady_clock::duration since;
    bool due;
  };
  const Row rows[] = {
      {"nothing written", 0, 0, seconds(1), false},
      {"nothing written for long", 0, 0, kLong * 2, false},
      {"nothing new since the last", 500, 500, kLong * 2, false},
      {"a few new frames, just checkpointed", 510, 500, seconds(1), false},
      {"a few new frames, a while ago", 510, 500, kLong, true},
      {"a WAL's worth of new frames", 500 + kN, 500, seconds(1), true},
      {"one frame short of it", 500 + kN - 1, 500, seconds(1), false},
      {"started over, a few frames", 12, 3000, seconds(1), false},
      {"started over, a few frames, a while ago", 12, 3000, kLong, true},
      {"started over, a WAL's worth", kN, 3000, seconds(1), true},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(CheckpointSchedule::Due(r.frames, r.seen, r.since), r.due)
        << r.what;
  }
}

}  // namespace
}  // namespace pm
