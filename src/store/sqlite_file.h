// The SQLite file itself: whether a file may be opened as printmeter's
// database at all, and whether the database can take a write right now.
//
// Opening: SQLite happily turns a zero-length file into a new, empty
// database and opens a truncated one until the first read of a missing page.
// CheckDatabaseFile refuses both (and any file that is not SQLite) before
// SQLite touches it, so nothing is ever overwritten.
//
// Running: every connection reports the storage faults SQLite meets (disk
// full, read-only, I/O error, corrupt file, file moved or deleted) here, per
// database path; CheckWritable combines them with what the file system says
// now, for /readyz. A fault is logged once, when it starts, and again when
// it ends. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace pm::sqlite {

// Ok for a file printmeter may open (or create: a missing file is fine).
// kConflict, naming the file and what to do (restore the backup; delete an
// empty file only when nothing was ever stored), for a zero-length file, a
// file that is not SQLite, one with a broken header, and one shorter than
// its header says (truncated); kUnavailable when it cannot be read.
Status CheckDatabaseFile(const std::string& path);

// Free space below which the database counts as full for /readyz: a batch
// of webhooks needs a few pages of WAL.
inline constexpr int64_t kMinFreeBytes = 256 * 1024;

// Called by the connections: `path` was opened (its device and inode are
// kept to notice a replaced or deleted file); a statement failed with
// SQLite's extended result code `rc`; a write transaction committed.
void NoteOpened(const std::string& path);
void NoteFailure(const std::string& path, int rc, std::string_view message);
void NoteCommitted(const std::string& path);

// Ok when a write to the database at `path` can succeed as far as anyone
// can tell without writing: the file is still there (same inode) and
// readable as SQLite, its file system is writable and has kMinFreeBytes
// free, and no corruption or I/O error was met since the last commit.
// Otherwise kUnavailable saying what is wrong and what to do. Disk-full and
// read-only faults end by themselves when space returns or the file system
// is writable again.
Status CheckWritable(const std::string& path);

}  // namespace pm::sqlite
