// WriterLock: one writer per database, across processes.
//
// Event ids are handed out in the writer's memory, so two processes writing
// one SQLite file would collide. The lock is on the database file itself,
// not on a name for it: the writer holds an exclusive flock(2) on the
// database file (so a second writer is refused whether it names the file
// through a symlink, a hard link or "./x/../db"), and another on
// "<canonical db path>-writer.lock", which holds the holder's pid and
// program for the refusal message (and keeps out a printmeter that knows
// only that lock). The kernel drops both when the files are closed or the
// process dies, so a crash leaves nothing stale. flock locks belong to an
// open file, so two writers in one process are refused as well. SQLite's
// own locks are POSIX locks, which flock does not touch; but closing any
// descriptor of the file drops the process's POSIX locks on it, so the lock
// must be released only after the store's connections are closed
// (SqliteStore declares it before them).
#pragma once

#include <string>

#include "common/result.h"

namespace pm {

class WriterLock {
 public:
  // Takes the lock of the database at `db_path` without waiting, creating
  // the database file (empty) when it does not exist yet. kConflict when
  // another writer holds it (the message names its pid and program and
  // says what to do); kUnavailable when a file cannot be opened or made.
  // `program` (e.g. "printmeter serve") is recorded for the next one.
  static Result<WriterLock> Acquire(const std::string& db_path,
                                    const std::string& program);

  WriterLock(WriterLock&& other) noexcept;
  WriterLock& operator=(WriterLock&& other) noexcept;
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;
  ~WriterLock();  // releases the lock

  // The lock file of the database at `db_path` (the path as given; Acquire
  // uses the canonical one, symlinks and ".." resolved).
  static std::string LockPath(const std::string& db_path);

 private:
  WriterLock(int db_fd, int note_fd) : db_fd_(db_fd), note_fd_(note_fd) {}
  void Release();

  int db_fd_ = -1;    // the database file, flocked: its identity
  int note_fd_ = -1;  // the lock file, flocked, with the holder's note
};

}  // namespace pm
