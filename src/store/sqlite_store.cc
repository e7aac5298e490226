// Opening, the reader pool and the background checkpoints of SqliteStore.
#include "store/sqlite_store.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <thread>
#include <utility>

#include "common/thread_name.h"
#include "store/schema.h"
#include "store/sqlite_file.h"
#include "store/sqlite_rates.h"
#include "store/sqlite_rows.h"

namespace pm {

using sqlite::Connection;
using sqlite::Query;

namespace {

constexpr size_t kMaxIdleReaders = 8;

// Configures a freshly opened connection.
// - mmap_size = 0: pages are read with read(2) into SQLite's own bounded
//   page cache (2 MiB per connection). Mapped pages would count toward the
//   process's resident memory as soon as a report touched them (up to the
//   size of the file), and the kernel's page cache holds them anyway.
// - No commit checkpoints: Connection::Open replaces SQLite's automatic
//   checkpoints with a note of the WAL's size (sqlite_db.h); the
//   Checkpointer below checkpoints on its own connection, so the request
//   path never pays for it (but see BoundWal, sqlite_projection.cc).
// - journal_size_limit: the WAL file is cut back to 4 MiB when it is reset,
//   so a Raspberry Pi's card does not keep what a rebuild once wrote.
Status Configure(Connection& conn) {
  return conn.Exec(
      "PRAGMA busy_timeout = 5000; PRAGMA synchronous = FULL; "
      "PRAGMA foreign_keys = ON; PRAGMA mmap_size = 0; "
      "PRAGMA cache_size = -2048; "
      "PRAGMA journal_size_limit = 4194304;");
}

}  // namespace

// Checkpoints the WAL into the database file when sqlite::CheckpointSchedule
// says (looked at once a second), PASSIVE: it copies what no reader still
// needs and never waits for (or blocks) the writer or a reader. What a
// Raspberry Pi's SD card gets from this: a page changed by a hundred
// webhooks between two checkpoints (the log's last page, an open print's
// session row) is written to the database file once, in page order, with
// one fsync a second at most, instead of a checkpoint on the request path
// every few dozen commits.
//
// The WAL is bounded by the writer itself (SqliteStore::Append): PASSIVE
// checkpoints here never copy everything while appends keep coming, and the
// WAL starts over from its beginning only after one did.
class SqliteStore::Checkpointer {
 public:
  static constexpr auto kInterval = std::chrono::seconds(1);

  // `wal_frames`: the WAL's frames after the latest commit (any thread).
  Checkpointer(std::unique_ptr<Connection> conn,
               std::function<int64_t()> wal_frames)
      : conn_(std::move(conn)),
        wal_frames_(std::move(wal_frames)),
        thread_([this] {
          NameThisThread("pm-checkpoint");
          Run();
        }) {}
  ~Checkpointer() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }

 private:
  void Run() {
    std::unique_lock lock(mu_);
    int64_t seen = 0;  // frames in the WAL at the last checkpoint
    auto last = std::chrono::steady_clock::now();
    while (!wake_.wait_for(lock, kInterval, [this] { return stopping_; })) {
      if (!sqlite::CheckpointSchedule::Due(
              wal_frames_(), seen, std::chrono::steady_clock::now() - last)) {
        continue;
      }
      lock.unlock();
      Result<int64_t> in_wal = Checkpoint();
      if (!in_wal.ok() && !failing_) {
        spdlog::warn("checkpoint failed (will retry): {}",
                     in_wal.error().message);
      }
      failing_ = !in_wal.ok();
      if (in_wal.ok()) seen = *in_wal;
      last = std::chrono::steady_clock::now();
      lock.lock();
    }
  }

  // A PASSIVE checkpoint: the frames in the WAL as it found it.
  Result<int64_t> Checkpoint() {
    Result<sqlite::Statement*> stmt =
        conn_->Prepare("PRAGMA wal_checkpoint(PASSIVE)");
    if (!stmt.ok()) return stmt.error();
    Query q(*stmt);
    Result<bool> row = q.Step();
    if (!row.ok()) return row.error();
    if (!*row) return int64_t{0};
    q.Skip();  // whether it was blocked
    return q.Int();
  }

  std::unique_ptr<Connection> conn_;  // the checkpoint thread's
  std::function<int64_t()> wal_frames_;
  bool failing_ = false;              // the thread's
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

// --- The reader pool
// --------------------------------------------------------------

SqliteStore::Lease::~Lease() {
  if (!conn_) return;
  if (conn_->InTransaction()) (void)conn_->Exec("ROLLBACK");
  std::lock_guard lock(store_->pool_mutex_);
  if (store_->idle_readers_.size() < kMaxIdleReaders) {
    store_->idle_readers_.push_back(std::move(conn_));
  }
}

Result<SqliteStore::Lease> SqliteStore::Reader() {
  {
    std::lock_guard lock(pool_mutex_);
    if (!idle_readers_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return Lease(this, std::move(conn));
    }
  }
  Result<std::unique_ptr<Connection>> conn =
      read_only_ ? Connection::OpenReadOnly(path_)
                 : Connection::Open(path_, false);
  if (!conn.ok()) return conn.error();
  if (Status s = Configure(**conn); !s.ok()) return s.error();
  return Lease(this, std::move(*conn));
}

Status SqliteStore::WriteTransaction(Connection& conn, bool durable,
                                     const std::function<Status()>& body) {
  // The appends' and the projector's connections take turns here rather
  // than in SQLite's busy handler, which sleeps in steps of milliseconds.
  std::lock_guard lock(write_mutex_);
  if (Status s = conn.Exec(durable ? "PRAGMA synchronous = FULL"
                                   : "PRAGMA synchronous = NORMAL");
      !s.ok()) {
    return s;
  }
  if (Status s = conn.Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  Status s = body();
  if (s.ok()) s = conn.Exec("COMMIT");
  if (!s.ok()) (void)conn.Exec("ROLLBACK");
  return s;
}

// --- Opening
// ----------------------------------------------------------------------

SqliteStore::SqliteStore(std::string path,
                         std::unique_ptr<sqlite::Connection> writer)
    : path_(std::move(path)),
      writer_(std::move(writer)),
      projector_(writer_.get()) {}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(
    const std::string& path) {
  return Open(path, OpenOptions{});
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(
    const std::string& path, const OpenOptions& options) {
  // A file that is not a sound SQLite database is refused untouched; then
  // the lock: a second writer must not even migrate the file.
  if (Status s = sqlite::CheckDatabaseFile(path); !s.ok()) return s.error();
  if (options.read_only && !options.writer) return OpenReadOnly(path);
  std::optional<WriterLock> lock;
  if (options.writer) {
    Result<WriterLock> taken = WriterLock::Acquire(path, options.program);
    if (!taken.ok()) return taken.error();
    lock.emplace(std::move(*taken));
  }
  Result<std::unique_ptr<Connection>> conn = Connection::Open(path, true);
  if (!conn.ok()) return conn.error();
  Connection& writer = **conn;
  if (Status s = Configure(writer); !s.ok()) return s.error();
  if (Status s = sqlite::Migrate(writer); !s.ok()) return s.error();
  if (Status s = writer.Exec("PRAGMA journal_mode = WAL"); !s.ok()) {
    return s.error();
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(path, std::move(*conn)));
  store->lock_ = std::move(lock);
  Result<int64_t> max_id = sqlite::Single<int64_t>(
      *store->writer_, "SELECT coalesce(max(id), 0) + ? FROM events", 1,
      [](Query& q) { return q.Int(); }, 1);
  if (!max_id.ok()) return max_id.error();
  store->next_event_id_ = *max_id;
  if (options.writer) {
    if (Status s = store->OpenJournal(options.append_journal); !s.ok()) {
      return s.error();
    }
  }
  // The projector's own connection: it reads and folds the log on its
  // thread while appends go on (ingest/writer.h).
  Result<std::unique_ptr<Connection>> projector = Connection::Open(path, false);
  if (!projector.ok()) return projector.error();
  if (Status s = Configure(**projector); !s.ok()) return s.error();
  store->projector_owned_ = std::move(*projector);
  store->projector_ = store->projector_owned_.get();
  Result<std::unique_ptr<Connection>> checkpoints =
      Connection::Open(path, false);
  if (!checkpoints.ok()) return checkpoints.error();
  if (Status s = Configure(**checkpoints); !s.ok()) return s.error();
  SqliteStore* self = store.get();
  store->checkpointer_ = std::make_unique<Checkpointer>(
      std::move(*checkpoints), [self] {
        return std::max(self->writer_->wal_frames(),
                        self->projector_->wal_frames());
      });
  return store;
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::OpenReadOnly(
    const std::string& path) {
  Result<std::unique_ptr<Connection>> conn = Connection::OpenReadOnly(path);
  if (!conn.ok()) return conn.error();
  if (Status s = Configure(**conn); !s.ok()) return s.error();
  if (Status s = sqlite::CheckReadable(**conn); !s.ok()) return s.error();
  std::unique_ptr<SqliteStore> store(new SqliteStore(path, std::move(*conn)));
  store->read_only_ = true;
  return store;
}

SqliteStore::~SqliteStore() {
  if (!journal_) return;
  // What is left pending would be moved at the next start; now is sooner.
  if (Status s = MovePending(*writer_); !s.ok()) {
    spdlog::warn("{} answered webhook(s) stay in the journal until the next "
                 "start: {}",
                 pending_.size(), s.error().message);
    return;
  }
  // Everything in it is in the database: a clean stop leaves the journal
  // empty (new laps), so nothing in it is read again, whatever becomes of
  // the database file.
  if (Status s = journal_->Start(); !s.ok()) {
    spdlog::warn("{}", s.error().message);
  }
}

Result<std::vector<RateChange>> SqliteStore::LoadRateChanges() {
  Result<Lease> lease = Reader();
  if (!lease.ok()) return lease.error();
  return sqlite::ReadRateChanges(**lease);
}

}  // namespace pm
