// WriterLock: one writer per database, across processes.
//
// Event ids are handed out in the writer's memory, so two processes writing
// one SQLite file would collide. The writer holds an exclusive flock(2) on
// "<db path>-writer.lock" for as long as it runs; the kernel drops it when
// the file is closed or the process dies, so a crash leaves nothing stale.
// The lock file holds the holder's pid and program for the refusal message.
// flock locks belong to an open file, so two writers in one process are
// refused as well.
#pragma once

#include <string>

#include "common/result.h"

namespace pm {

class WriterLock {
 public:
  // Takes the lock of the database at `db_path` without waiting. kConflict
  // when another writer holds it (the message names its pid and program and
  // says what to do); kUnavailable when the lock file cannot be made.
  // `program` (e.g. "printmeter serve") is recorded for the next one.
  static Result<WriterLock> Acquire(const std::string& db_path,
                                    const std::string& program);

  WriterLock(WriterLock&& other) noexcept;
  WriterLock& operator=(WriterLock&& other) noexcept;
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;
  ~WriterLock();  // releases the lock

  // The lock file of the database at `db_path`.
  static std::string LockPath(const std::string& db_path);

 private:
  explicit WriterLock(int fd) : fd_(fd) {}
  void Release();

  int fd_ = -1;
};

}  // namespace pm
