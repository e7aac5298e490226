#include "store/writer_lock.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
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

Result<WriterLock> WriterLock::Acquire(const std::string& db_path,
                                       const std::string& program) {
  std::string path = LockPath(db_path);
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Unavailable(fmt::format(
        "cannot create the writer lock {}: {} (check that the database's "
        "directory is writable)",
        path, std::strerror(errno)));
  }
  int rc;
  do {
    rc = flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    int err = errno;
    // Not ours: close without touching the holder's note.
    Error error = err == EWOULDBLOCK
                      ? Held(db_path, ReadHolder(fd))
                      : Unavailable(fmt::format("cannot lock {}: {}", path,
                                                std::strerror(err)));
    close(fd);
    return error;
  }
  WriterLock lock(fd);
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
    : fd_(std::exchange(other.fd_, -1)) {}

WriterLock& WriterLock::operator=(WriterLock&& other) noexcept {
  if (this != &other) {
    Release();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

WriterLock::~WriterLock() { Release(); }

void WriterLock::Release() {
  if (fd_ < 0) return;
  // Forget the holder before letting go; the file itself stays (removing it
  // would race with a writer that just opened it).
  (void)!ftruncate(fd_, 0);
  close(fd_);  // drops the flock
  fd_ = -1;
}

}  // namespace pm
