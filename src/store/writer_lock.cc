#include "store/writer_lock.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

namespace pm {
namespace {

// What the lock file says about its holder: "PID PROGRAM", or "" when it
// cannot be read (the holder may not have written it yet).
std::string ReadHolder(int fd) {
  char buf[256];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return {};
  std::string text(buf, static_cast<size_t>(n));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\0')) {
    text.pop_back();
  }
  return text;
}

Error Held(const std::string& db_path, const std::string& holder) {
  std::string who;
  size_t space = holder.find(' ');
  if (holder.empty()) {
    who = "`printmeter serve`?";
  } else if (space == std::string::npos) {
    who = fmt::format("pid {}, `printmeter serve`?", holder);
  } else {
    who = fmt::format("pid {}, `{}`", holder.substr(0, space),
                      holder.substr(space + 1));
  }
  return {ErrorCode::kConflict,
          fmt::format("database {} is being written by another printmeter "
                      "({}); stop it first, or send the requests to its "
                      "/webhook",
                      db_path, who)};
}

}  // namespace

std::string WriterLock::LockPath(const std::string& db_path) {
  return db_path + "-writer.lock";
}

namespace {

// flock(LOCK_EX | LOCK_NB) on `fd`: 0, or the errno that refused it.
int TryLock(int fd) {
  int rc;
  do {
    rc = flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  return rc == 0 ? 0 : errno;
}

// The database file, opened to be locked (created empty when missing; read
// only when it may not be written, which the store then reports).
int OpenDatabaseFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 && (errno == EACCES || errno == EROFS)) {
    fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  return fd;
}

// "/a/b/../c/db" and a symlink to it -> one name, for the lock file.
std::string CanonicalPath(const std::string& path) {
  std::error_code ec;
  auto canonical = std::filesystem::weakly_canonical(path, ec);
  return ec ? path : canonical.string();
}

}  // namespace

Result<WriterLock> WriterLock::Acquire(const std::string& db_path,
                                       const std::string& program) {
  int db_fd = OpenDatabaseFile(db_path);
  if (db_fd < 0) {
    return Unavailable(fmt::format(
        "cannot open database {} to lock it: {} (check that the directory "
        "exists and is writable)",
        db_path, std::strerror(errno)));
  }
  std::string path = LockPath(CanonicalPath(db_path));
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    int err = errno;
    close(db_fd);
    return Unavailable(fmt::format(
        "cannot create the writer lock {}: {} (check that the database's "
        "directory is writable)",
        path, std::strerror(err)));
  }
  int err = TryLock(db_fd);
  if (err == 0) err = TryLock(fd);
  if (err != 0) {
    // Not ours: close without touching the holder's note.
    Error error = err == EWOULDBLOCK
                      ? Held(db_path, ReadHolder(fd))
                      : Unavailable(fmt::format("cannot lock {}: {}", db_path,
                                                std::strerror(err)));
    close(fd);
    close(db_fd);
    return error;
  }
  WriterLock lock(db_fd, fd);
  std::string holder =
      fmt::format("{} {}\n", static_cast<long>(getpid()),
                  program.empty() ? std::string("printmeter") : program);
  // Best effort: the lock holds whether or not the note is written.
  if (ftruncate(fd, 0) == 0) {
    (void)!pwrite(fd, holder.data(), holder.size(), 0);
  }
  return lock;
}

WriterLock::WriterLock(WriterLock&& other) noexcept
    : db_fd_(std::exchange(other.db_fd_, -1)),
      note_fd_(std::exchange(other.note_fd_, -1)) {}

WriterLock& WriterLock::operator=(WriterLock&& other) noexcept {
  if (this != &other) {
    Release();
    db_fd_ = std::exchange(other.db_fd_, -1);
    note_fd_ = std::exchange(other.note_fd_, -1);
  }
  return *this;
}

WriterLock::~WriterLock() { Release(); }

void WriterLock::Release() {
  if (note_fd_ >= 0) {
    // Forget the holder before letting go; the file itself stays (removing
    // it would race with a writer that just opened it).
    (void)!ftruncate(note_fd_, 0);
    close(note_fd_);  // drops its flock
    note_fd_ = -1;
  }
  if (db_fd_ >= 0) {
    close(db_fd_);
    db_fd_ = -1;
  }
}

}  // namespace pm
