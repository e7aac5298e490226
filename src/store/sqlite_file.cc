#include "store/sqlite_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>

namespace pm::sqlite {
namespace {

constexpr char kMagic[] = "SQLite format 3";  // and its NUL: 16 bytes

uint32_t BigEndian(const unsigned char* p, int bytes) {
  uint32_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

Error Refused(const std::string& path, std::string_view what,
              std::string_view todo) {
  return {ErrorCode::kConflict,
          fmt::format("database {} {}; printmeter will not use it and has "
                      "changed nothing. {}",
                      path, what, todo)};
}

constexpr std::string_view kRestore =
    "Restore it from your backup (sqlite3 printmeter.db \".backup "
    "backup.db\" makes one), or give --db another file";

// What is wrong with the 100-byte header of a file of `size` bytes, or "".
// `size` is checked against the header's page count only when given: on a
// file in use a checkpoint writes page 1 (with the new count) before the
// pages that grow the file, so a live reading of both races it.
std::string HeaderProblem(const unsigned char* h,
                          std::optional<uint64_t> size) {
  if (std::memcmp(h, kMagic, sizeof kMagic) != 0) {
    return "is not an SQLite database (its first bytes are not \"SQLite "
           "format 3\")";
  }
  uint32_t page = BigEndian(h + 16, 2);
  if (page == 1) page = 65536;
  if (page < 512 || page > 65536 || (page & (page - 1)) != 0) {
    return fmt::format("has a broken header (page size {})", page);
  }
  if (!size) return {};
  uint32_t pages = BigEndian(h + 28, 4);
  bool pages_valid = pages != 0 && BigEndian(h + 24, 4) == BigEndian(h + 92, 4);
  if (pages_valid && *size < uint64_t{pages} * page) {
    return fmt::format(
        "is truncated: it is {} bytes, its header says {} pages of {} "
        "bytes ({} bytes)",
        *size, pages, page, uint64_t{pages} * page);
  }
  if (*size % page != 0) {
    return fmt::format(
        "is truncated: {} bytes is not a whole number of {}-byte "
        "pages",
        *size, page);
  }
  return {};
}

struct Fault {
  int rc = 0;  // primary result code
  std::string message;
};

struct FileState {
  bool opened = false;
  dev_t dev = 0;
  ino_t ino = 0;
  std::optional<Fault> fault;
};

std::mutex& Mutex() {
  static std::mutex mu;
  return mu;
}
std::map<std::string, FileState>& Files() {  // guarded by Mutex()
  static std::map<std::string, FileState> files;
  return files;
}

// What a storage fault of SQLite's (extended) result code means, or "" for
// codes that are no fault of the storage (a constraint, a busy lock).
std::string_view FaultName(int rc) {
  if (rc == SQLITE_READONLY_DBMOVED) return "the file was moved or deleted";
  switch (rc & 0xff) {
    case SQLITE_FULL:
      return "the disk is full";
    case SQLITE_READONLY:
      return "the database is read-only";
    case SQLITE_IOERR:
      return "an I/O error";
    case SQLITE_CORRUPT:
      return "the file is corrupt";
    case SQLITE_NOTADB:
      return "the file is not a database";
    case SQLITE_CANTOPEN:
      return "the file cannot be opened";
    default:
      return {};
  }
}

// Faults that the file system checks below see end by themselves.
bool EndsByItself(int rc) {
  int primary = rc & 0xff;
  return rc != SQLITE_READONLY_DBMOVED &&
         (primary == SQLITE_FULL || primary == SQLITE_READONLY);
}

// What the file system says about writing `path` now, or "".
std::string FileSystemProblem(const std::string& path, const FileState& st) {
  struct stat now {};
  if (stat(path.c_str(), &now) != 0) {
    return fmt::format(
        "database {} is gone ({}): it was deleted or moved while printmeter "
        "runs, and nothing can be stored; put the file back (or restore the "
        "backup) and restart printmeter",
        path, std::strerror(errno));
  }
  if (st.opened && (now.st_dev != st.dev || now.st_ino != st.ino)) {
    return fmt::format(
        "database {} was replaced by another file while printmeter runs; "
        "restart printmeter to use the new one",
        path);
  }
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    unsigned char header[100] = {};
    ssize_t n = pread(fd, header, sizeof header, 0);
    close(fd);
    std::string problem =
        n == static_cast<ssize_t>(sizeof header)
            ? HeaderProblem(header, std::nullopt)  // live: no size check
            : std::string("is truncated (shorter than its header)");
    if (!problem.empty()) {
      return fmt::format("database {} {}; restore it from the backup", path,
                         problem);
    }
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  struct statvfs fs {};
  if (statvfs(dir.empty() ? "." : dir.c_str(), &fs) == 0) {
    if (fs.f_flag & ST_RDONLY) {
      return fmt::format(
          "the file system holding database {} is read-only (remounted "
          "after an error?); nothing can be stored until it is writable "
          "again",
          path);
    }
    uint64_t blocks = geteuid() == 0 ? fs.f_bfree : fs.f_bavail;
    uint64_t free_bytes = blocks * fs.f_frsize;
    if (free_bytes < static_cast<uint64_t>(kMinFreeBytes)) {
      return fmt::format(
          "the disk holding database {} is full ({} KiB free); free some "
          "space: printmeter stores again by itself once there is room",
          path, free_bytes / 1024);
    }
  }
  if (access(path.c_str(), W_OK) != 0) {
    return fmt::format("database {} is not writable: {}; fix its permissions",
                       path, std::strerror(errno));
  }
  return {};
}

}  // namespace

Status CheckDatabaseFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return {};  // a new database
    return Unavailable(
        fmt::format("cannot read database {}: {}", path, std::strerror(errno)));
  }
  struct stat st {};
  unsigned char header[100] = {};
  bool stat_ok = fstat(fd, &st) == 0;
  ssize_t n = pread(fd, header, sizeof header, 0);
  close(fd);
  if (!stat_ok || n < 0) {
    return Unavailable(
        fmt::format("cannot read database {}: {}", path, std::strerror(errno)));
  }
  if (S_ISDIR(st.st_mode)) {
    return Refused(path, "is a directory", "Give --db a file path");
  }
  if (st.st_size == 0) {
    return Refused(
        path, "is empty (0 bytes): a database that lost its contents",
        fmt::format("{}. Only if nothing was ever stored in it (a first start "
                    "that failed), delete the empty file and start again",
                    kRestore));
  }
  // A checkpoint writes page 1 (with the new page count) before the pages
  // that grow the file. Cut short (the process killed, the power gone), it
  // leaves a file shorter than its header says, and a WAL beside it that
  // still holds every page it was copying: SQLite reads them from there and
  // checkpoints again. Only a file without such a WAL is truncated.
  std::error_code wal_error;
  const uintmax_t wal_size =
      std::filesystem::file_size(path + "-wal", wal_error);
  const bool wal_has_frames = !wal_error && wal_size > 32;  // its header
  std::optional<uint64_t> size;
  if (!wal_has_frames) size = static_cast<uint64_t>(st.st_size);
  std::string problem =
      n < static_cast<ssize_t>(sizeof header)
          ? (std::memcmp(header, kMagic, std::min<size_t>(n, 16)) == 0
                 ? std::string("is truncated (shorter than its header)")
                 : std::string("is not an SQLite database"))
          : HeaderProblem(header, size);
  if (problem.empty()) return {};
  return Refused(
      path, problem,
      fmt::format("{}. Where only the ledger is damaged and the event log is "
                  "intact, `sqlite3 {} .recover | sqlite3 recovered.db` and "
                  "`printmeter rebuild --db sqlite:recovered.db` re-derive it",
                  kRestore, path));
}

void NoteOpened(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return;
  std::lock_guard lock(Mutex());
  FileState& f = Files()[path];
  if (f.opened) return;
  f.opened = true;
  f.dev = st.st_dev;
  f.ino = st.st_ino;
}

void NoteFailure(const std::string& path, int rc, std::string_view message) {
  std::string_view name = FaultName(rc);
  if (name.empty()) return;
  std::lock_guard lock(Mutex());
  FileState& f = Files()[path];
  bool news = !f.fault || (f.fault->rc & 0xff) != (rc & 0xff);
  f.fault = Fault{rc, fmt::format("{} ({})", name, message)};
  if (news) {
    spdlog::error(
        "database {}: {} ({}); webhooks are answered 503 and "
        "/readyz says not ready until it is fixed",
        path, name, message);
  }
}

void NoteCommitted(const std::string& path) {
  std::lock_guard lock(Mutex());
  auto it = Files().find(path);
  if (it == Files().end() || !it->second.fault) return;
  spdlog::info("database {}: writes succeed again (after: {})", path,
               it->second.fault->message);
  it->second.fault.reset();
}

Status CheckWritable(const std::string& path) {
  FileState state;
  {
    std::lock_guard lock(Mutex());
    state = Files()[path];
  }
  std::string problem = FileSystemProblem(path, state);
  if (!problem.empty()) return Unavailable(problem);
  if (state.fault && EndsByItself(state.fault->rc)) {
    NoteCommitted(path);  // the space or the permission is back
    return {};
  }
  if (state.fault) {
    return Unavailable(fmt::format(
        "database {}: the last write failed: {}; check the disk and the "
        "log, restore the backup if the file is damaged, and restart "
        "printmeter",
        path, state.fault->message));
  }
  return {};
}

}  // namespace pm::sqlite
