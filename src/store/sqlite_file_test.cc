// A database file printmeter must not use is refused untouched, by every
// command (they all open through OpenStore); a file that goes bad while the
// store runs makes Ping (/readyz) say so.
#include "store/sqlite_file.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "store/store.h"
#include "store/store_test_util.h"
#include "store/write_batch.h"

namespace pm {
namespace {

using testing::TempDir;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void Spit(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// A printmeter database with some rows in it, closed.
void MakeDatabase(const std::string& path) {
  auto store = testing::MustOpen(path);
  ASSERT_NE(store, nullptr);
  WriteBatch batch;
  for (int i = 0; i < 200; ++i) {
    batch.devices.push_back(
        {"printer-" + std::to_string(i), std::string(300, 'x'), 1, 2});
  }
  ASSERT_TRUE(CommitBatch(*store, batch).ok());
}

// Opening `path` as a writer and as a reader is refused with kConflict, the
// message names the file and `words`, and the file is left as it was.
void ExpectRefused(const std::string& path, const std::string& words) {
  std::string before = Slurp(path);
  for (bool writer : {true, false}) {
    auto store =
        OpenStore("sqlite:" + path,
                  OpenOptions{.writer = writer, .program = "printmeter serve"});
    ASSERT_FALSE(store.ok()) << path << " was opened";
    EXPECT_EQ(store.error().code, ErrorCode::kConflict);
    EXPECT_NE(store.error().message.find(path), std::string::npos)
        << store.error().message;
    EXPECT_NE(store.error().message.find(words), std::string::npos)
        << store.error().message;
  }
  EXPECT_EQ(Slurp(path), before) << "the refused file was changed";
  EXPECT_FALSE(std::filesystem::exists(path + "-wal"));
}

TEST(SqliteFileTest, AMissingFileIsANewDatabase) {
  TempDir dir;
  EXPECT_TRUE(sqlite::CheckDatabaseFile(dir.File("new.db")).ok());
  MakeDatabase(dir.File("new.db"));
  EXPECT_TRUE(sqlite::CheckDatabaseFile(dir.File("new.db")).ok());
}

TEST(SqliteFileTest, AZeroLengthFileIsRefusedNotMadeANewLedger) {
  TempDir dir;
  std::string db = dir.File("printmeter.db");
  Spit(db, "");
  ExpectRefused(db, "is empty (0 bytes)");
  auto s = sqlite::CheckDatabaseFile(db);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("backup"), std::string::npos);
  EXPECT_EQ(std::filesystem::file_size(db), 0u);
}

TEST(SqliteFileTest, AFileThatIsNotSqliteIsRefused) {
  TempDir dir;
  std::string db = dir.File("printmeter.db");
  Spit(db, "listen = \"0.0.0.0:8080\"\n# a config file given as --db\n");
  ExpectRefused(db, "is not an SQLite database");
  Spit(db, std::string(4096, '\0'));
  ExpectRefused(db, "is not an SQLite database");
  Spit(db, "SQLite");
  ExpectRefused(db, "truncated");
}

TEST(SqliteFileTest, ATruncatedDatabaseIsRefused) {
  TempDir dir;
  std::string db = dir.File("printmeter.db");
  MakeDatabase(db);
  std::string bytes = Slurp(db);
  ASSERT_GT(bytes.size(), 8192u);
  Spit(db, bytes.substr(0, bytes.size() / 2 / 4096 * 4096));
  ExpectRefused(db, "is truncated");
  Spit(db, bytes.substr(0, bytes.size() - 100));
  ExpectRefused(db, "is truncated");
  Spit(db, bytes.substr(0, 50));
  ExpectRefused(db, "is truncated");
}

// A checkpoint cut short (printmeter killed while it copied the WAL into
// the file) leaves page 1 with the new page count, a file shorter than that,
// and the WAL that still holds the missing pages: printmeter starts, and
// nothing is missing.
TEST(SqliteFileTest, ACheckpointCutShortIsNotTakenForATruncatedFile) {
  TempDir dir;
  std::string db = dir.File("printmeter.db");
  MakeDatabase(db);
  sqlite3* conn = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &conn), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(conn,
                         "PRAGMA wal_autocheckpoint = 0; "
                         "CREATE TABLE filler (x BLOB); "
                         "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT "
                         "i + 1 FROM n WHERE i < 500) INSERT INTO filler "
                         "SELECT randomblob(2000) FROM n;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  // The moment before the checkpoint: the file as it was, the WAL with
  // every new page.
  std::string before = Slurp(db);
  std::string wal = Slurp(db + "-wal");
  ASSERT_GT(wal.size(), 500u * 2000u);
  ASSERT_EQ(sqlite3_exec(conn, "PRAGMA wal_checkpoint(FULL)", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  std::string after = Slurp(db);
  ASSERT_EQ(sqlite3_close(conn), SQLITE_OK);
  ASSERT_GT(after.size(), before.size() + 4096);
  // Cut short after page 1 (written first, with the new count).
  std::string cut = after.substr(0, 4096) + before.substr(4096);
  std::filesystem::remove(db + "-wal");
  std::filesystem::remove(db + "-shm");
  Spit(db, cut);
  Spit(db + "-wal", wal);
  auto store = OpenStore("sqlite:" + db, OpenOptions{.writer = true,
                                                     .program = "test"});
  ASSERT_TRUE(store.ok()) << store.error().message;
  auto devices = (*store)->LoadDevices();
  ASSERT_TRUE(devices.ok());
  EXPECT_EQ(devices->size(), 200u);
  store->reset();
  ASSERT_EQ(sqlite3_open(db.c_str(), &conn), SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(conn,
                               "SELECT (SELECT count(*) FROM filler), "
                               "(SELECT integrity_check FROM "
                               "pragma_integrity_check)",
                               -1, &q, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(q, 0), 500);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(q, 1)), "ok");
  sqlite3_finalize(q);
  sqlite3_close(conn);
  // The same file without its WAL is truncated indeed.
  std::filesystem::remove(db + "-wal");
  std::filesystem::remove(db + "-shm");
  Spit(db, cut);
  ExpectRefused(db, "is truncated");
}

TEST(SqliteFileTest, ABrokenHeaderIsRefused) {
  TempDir dir;
  std::string db = dir.File("printmeter.db");
  MakeDatabase(db);
  std::string bytes = Slurp(db);
  bytes[16] = 0x03;  // page size 0x03xx: not a power of two
  Spit(db, bytes);
  ExpectRefused(db, "broken header");
}

TEST(SqliteFileTest, ADatabaseFromANewerPrintmeterIsRefused) {
  TempDir dir;
  std::string db = dir.File("printmeter.db");
  MakeDatabase(db);
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(raw, "PRAGMA user_version = 999", nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(raw);
  ExpectRefused(db, "newer printmeter");
}

TEST(SqliteFileTest, PingSaysWhenTheFileIsDeletedWhileRunning) {
  TempDir dir;
  std::string db = dir.File("printmeter.db");
  auto store = testing::MustOpen(db);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Ping().ok());
  std::filesystem::remove(db);
  Status ping = store->Ping();
  ASSERT_FALSE(ping.ok());
  EXPECT_EQ(ping.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(ping.error().message.find("deleted or moved"), std::string::npos)
      << ping.error().message;
}

TEST(SqliteFileTest, PingSaysWhenTheFileIsReplacedOrOverwritten) {
  TempDir dir;
  std::string db = dir.File("printmeter.db");
  auto store = testing::MustOpen(db);
  ASSERT_NE(store, nullptr);
  MakeDatabase(dir.File("other.db"));
  std::filesystem::rename(dir.File("other.db"), db);
  Status ping = store->Ping();
  ASSERT_FALSE(ping.ok());
  EXPECT_NE(ping.error().message.find("replaced"), std::string::npos)
      << ping.error().message;

  std::string fresh = dir.File("fresh.db");
  auto second = testing::MustOpen(fresh);
  ASSERT_NE(second, nullptr);
  std::string bytes = Slurp(fresh);
  {
    std::fstream f(fresh, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f << std::string(100, 'Z');  // a stray write over the header
  }
  ping = second->Ping();
  ASSERT_FALSE(ping.ok());
  EXPECT_NE(ping.error().message.find("not an SQLite database"),
            std::string::npos)
      << ping.error().message;
}

}  // namespace
}  // namespace pm
