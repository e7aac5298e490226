#include "store/append_journal.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace pm {
namespace {

constexpr char kMagic[8] = {'P', 'M', 'A', 'P', 'P', 'E', 'N', 'D'};
// Version 1 headers (no owner) are still read: their records are taken
// as the database's own.
constexpr uint32_t kVersion = 2;
constexpr uint32_t kVersionWithoutOwner = 1;
constexpr char kRecordMagic[4] = {'P', 'M', 'R', '1'};
constexpr size_t kRecordHeader = 24;  // magic, length, lap, CRC, padding
constexpr size_t kHeaderSize = 512;
constexpr size_t kMemoryAlign = 4096;

size_t Padded(size_t n) { return (n + 7) & ~size_t{7}; }

void Put32(char* at, uint32_t v) {
  for (int i = 0; i < 4; ++i) at[i] = static_cast<char>(v >> (8 * i));
}
void Put64(char* at, uint64_t v) {
  for (int i = 0; i < 8; ++i) at[i] = static_cast<char>(v >> (8 * i));
}
uint32_t Get32(const char* at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    v |= static_cast<uint32_t>(static_cast<unsigned char>(at[i])) << (8 * i);
  }
  return v;
}
uint64_t Get64(const char* at) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v |= static_cast<uint64_t>(static_cast<unsigned char>(at[i])) << (8 * i);
  }
  return v;
}

uint32_t Crc(uint64_t lap, uint32_t length, std::string_view payload) {
  // (A header's CRC: `length` is its version, `payload` its owner.)
  char head[12];
  Put64(head, lap);
  Put32(head + 8, length);
  uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(head), sizeof head);
  // (zlib's crc32 of a null buffer is its initial value, 0, whatever came
  // before: no bytes, no call.)
  if (!payload.empty()) {
    crc = crc32(crc, reinterpret_cast<const Bytef*>(payload.data()),
                static_cast<uInt>(payload.size()));
  }
  return static_cast<uint32_t>(crc);
}

Error IoError(const std::string& what, const std::string& path) {
  return Unavailable(
      fmt::format("cannot {} the journal {}: {}", what, path, strerror(errno)));
}

// Writes all of `len` bytes at `at`.
bool WriteAll(int fd, const char* data, size_t len, int64_t at) {
  while (len > 0) {
    ssize_t n = pwrite(fd, data, len, at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    len -= static_cast<size_t>(n);
    at += n;
  }
  return true;
}

Status MakeFile(const std::string& path, int64_t size) {
  // Made under another name and renamed, so that a crash while making it
  // leaves no journal of the wrong size.
  const std::string temp = path + ".new";
  int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("create", temp);
  std::string zeros(size_t{1} << 20, '\0');
  bool ok = true;
  for (int64_t at = 0; ok && at < size; at += static_cast<int64_t>(zeros.size())) {
    size_t len = static_cast<size_t>(
        std::min<int64_t>(size - at, static_cast<int64_t>(zeros.size())));
    ok = WriteAll(fd, zeros.data(), len, at);
  }
  if (ok) ok = fsync(fd) == 0;
  if (!ok) {
    Error error = IoError("write", temp);  // before close() changes errno
    close(fd);
    unlink(temp.c_str());
    return error;
  }
  close(fd);
  if (rename(temp.c_str(), path.c_str()) != 0) return IoError("name", path);
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = std::filesystem::current_path();
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)fsync(dfd);
    close(dfd);
  }
  return {};
}

}  // namespace

AppendJournal::AppendJournal(std::string path, int fd, int64_t segment_size,
                             bool direct, std::string owner)
    : path_(std::move(path)),
      owner_(std::move(owner)),
      fd_(fd),
      segment_size_(segment_size),
      direct_(direct) {}

AppendJournal::~AppendJournal() {
  if (fd_ >= 0) close(fd_);
  std::free(buf_);
}

Result<std::unique_ptr<AppendJournal>> AppendJournal::Open(
    const std::string& path, Options options) {
  constexpr int64_t kSmallest = kSegments * (kFirstRecord + 4096);
  if (options.size < kSmallest || options.size % 8192 != 0) {
    return Invalid(fmt::format("a journal of {} bytes is too small or not a "
                               "multiple of 8192",
                               options.size));
  }
  if (options.owner.size() > kMaxOwner) {
    return Invalid(fmt::format("a journal's owner is at most {} bytes",
                               kMaxOwner));
  }
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return IoError("look at", path);
    if (Status s = MakeFile(path, options.size); !s.ok()) return s.error();
    if (stat(path.c_str(), &st) != 0) return IoError("look at", path);
  }
  if (!S_ISREG(st.st_mode)) {
    return Invalid(fmt::format("the journal {} is not a regular file", path));
  }
  const int64_t segment =
      static_cast<int64_t>(st.st_size) / kSegments & ~int64_t{4095};
  if (segment < kFirstRecord + 4096) {
    return Invalid(fmt::format(
        "the journal {} is {} bytes, too small: remove it (with printmeter "
        "stopped) and it is made again",
        path, static_cast<int64_t>(st.st_size)));
  }
  int fd = -1;
  bool direct = false;
  if (options.direct) {
    fd = open(path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
    direct = fd >= 0;
  }
  if (fd < 0) fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return IoError("open", path);
  std::unique_ptr<AppendJournal> journal(
      new AppendJournal(path, fd, segment, direct, std::move(options.owner)));
  if (!journal->Reserve(64 * 1024, 0)) {
    return Internal("out of memory for the journal");
  }
  return journal;
}

// Reads up to `len` bytes at `at` into `out` (fewer at the file's end).
static bool ReadAt(int fd, int64_t at, size_t len, std::string& out) {
  out.resize(len);
  size_t got = 0;
  while (got < len) {
    ssize_t n = pread(fd, out.data() + got, len - got,
                      static_cast<off_t>(at) + static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return true;
}

Result<std::vector<std::string>> AppendJournal::ReadAll() {
  // Through an ordinary descriptor (any length, any buffer), a record at a
  // time: the file is never held whole.
  int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("open", path_);
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  std::vector<std::string> records;
  foreign_records_ = 0;
  std::string head, payload;
  for (int k = 0; k < kSegments; ++k) {
    const int64_t base = Base(k);
    if (!ReadAt(fd, base, kHeaderSize, head)) return IoError("read", path_);
    // A file just made (all zeros), or a header torn by a power cut while a
    // lap started (no record of that lap was written yet): nothing to keep.
    if (head.size() < kHeaderSize ||
        std::memcmp(head.data(), kMagic, 8) != 0) {
      continue;
    }
    const uint32_t version = Get32(head.data() + 8);
    if (version != kVersion && version != kVersionWithoutOwner) {
      return Invalid(fmt::format(
          "the journal {} is from another version of printmeter", path_));
    }
    const uint64_t lap = Get64(head.data() + 12);
    std::string_view owner;
    if (version == kVersion) {
      const uint32_t size = Get32(head.data() + 24);
      if (size > kMaxOwner) continue;  // not a header this wrote
      owner = std::string_view(head.data() + 28, size);
    }
    // Version 1 wrote 0 for its header's CRC (the empty payload above).
    const uint32_t crc =
        version == kVersion ? Crc(lap, version, owner) : uint32_t{0};
    if (Get32(head.data() + 20) != crc) continue;
    lap_ = std::max(lap_, lap);
    // Another database's records (the database was replaced, its journal
    // left beside it): counted, never returned.
    const bool foreign = version == kVersion && owner != owner_;
    int64_t at = kFirstRecord;
    while (at + static_cast<int64_t>(kRecordHeader) <= segment_size_) {
      if (!ReadAt(fd, base + at, kRecordHeader, head)) {
        return IoError("read", path_);
      }
      if (head.size() < kRecordHeader) break;
      if (std::memcmp(head.data(), kRecordMagic, 4) != 0) break;
      const uint32_t length = Get32(head.data() + 4);
      if (Get64(head.data() + 8) != lap) break;
      if (length > segment_size_ - at - static_cast<int64_t>(kRecordHeader)) {
        break;
      }
      if (!ReadAt(fd, base + at + static_cast<int64_t>(kRecordHeader), length,
                  payload)) {
        return IoError("read", path_);
      }
      if (payload.size() != length) break;
      if (Get32(head.data() + 16) != Crc(lap, length, payload)) break;
      if (foreign) {
        ++foreign_records_;
      } else {
        records.push_back(payload);
      }
      at += static_cast<int64_t>(kRecordHeader + Padded(length));
    }
  }
  return records;
}

bool AppendJournal::Reserve(size_t bytes, size_t keep) {
  if (bytes <= buf_size_) return true;
  size_t size = (bytes + 65535) & ~size_t{65535};
  char* grown = static_cast<char*>(std::aligned_alloc(kMemoryAlign, size));
  if (!grown) return false;
  if (keep > 0) std::memcpy(grown, buf_, keep);
  std::free(buf_);
  buf_ = grown;
  buf_size_ = size;
  return true;
}

Status AppendJournal::WriteDurably(int64_t at, size_t len) {
  bool ok = WriteAll(fd_, buf_, len, at);
  if (ok) ok = fdatasync(fd_) == 0;
  if (!ok) return IoError("write", path_);
  return {};
}

Status AppendJournal::StartLap(int k) {
  const uint64_t lap = lap_ + 1;
  const size_t len = direct_ ? std::max(align_, kHeaderSize) : kHeaderSize;
  std::memset(buf_, 0, len);
  std::memcpy(buf_, kMagic, 8);
  Put32(buf_ + 8, kVersion);
  Put64(buf_ + 12, lap);
  Put32(buf_ + 20, Crc(lap, kVersion, owner_));
  Put32(buf_ + 24, static_cast<uint32_t>(owner_.size()));
  std::memcpy(buf_ + 28, owner_.data(), owner_.size());
  Status s = WriteDurably(Base(k), len);
  if (!s.ok() && direct_ && errno == EINVAL) {
    if (align_ < 4096) {
      // A disk of 4 KiB sectors: direct writes must cover whole ones.
      align_ = 4096;
      return StartLap(k);
    }
    // A file system that opens with O_DIRECT but takes no such write:
    // ordinary writes.
    int fd = open(path_.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return IoError("open", path_);
    close(fd_);
    fd_ = fd;
    direct_ = false;
    return StartLap(k);
  }
  if (!s.ok()) return s;
  lap_ = lap;
  segments_[k] = Segment{lap, kFirstRecord, false};
  std::memset(buf_, 0, align_);
  return {};
}

Status AppendJournal::Start() {
  for (int k = kSegments - 1; k >= 0; --k) {
    if (Status s = StartLap(k); !s.ok()) return s;
  }
  segments_[1].released = true;
  active_ = 0;
  return {};
}

void AppendJournal::Release(int segment) {
  if (segment >= 0 && segment < kSegments && segment != active_) {
    segments_[segment].released = true;
  }
}

bool AppendJournal::Fits(size_t payload) const {
  return static_cast<int64_t>(kRecordHeader + Padded(payload)) <=
         segment_size_ - kFirstRecord;
}

Result<int> AppendJournal::Append(std::string_view payload) {
  const size_t record = kRecordHeader + Padded(payload.size());
  if (payload.size() > UINT32_MAX || !Fits(payload.size())) {
    return Error{ErrorCode::kTooLarge,
                 fmt::format("a record of {} bytes is larger than a segment "
                             "of the journal {}",
                             payload.size(), path_)};
  }
  if (segments_[active_].offset + static_cast<int64_t>(record) >
      segment_size_) {
    const int other = 1 - active_;
    if (!segments_[other].released) {
      return Error{ErrorCode::kTooLarge,
                   fmt::format("the journal {} is full of appends not yet "
                               "moved into the database",
                               path_)};
    }
    if (Status s = StartLap(other); !s.ok()) return s.error();
    active_ = other;
  }
  Segment& seg = segments_[active_];
  // buf_ holds the start of the sector the offset is in (kept from the
  // last append); the record goes after it.
  const int64_t unit = direct_ ? static_cast<int64_t>(align_) : 1;
  const int64_t start = seg.offset / unit * unit;
  const size_t lead = static_cast<size_t>(seg.offset - start);
  const size_t u = static_cast<size_t>(unit);
  const size_t written = (lead + record + u - 1) / u * u;
  if (!Reserve(written, lead)) return Internal("out of memory for the journal");
  char* rec = buf_ + lead;
  std::memcpy(rec, kRecordMagic, 4);
  Put32(rec + 4, static_cast<uint32_t>(payload.size()));
  Put64(rec + 8, seg.lap);
  Put32(rec + 16, Crc(seg.lap, static_cast<uint32_t>(payload.size()), payload));
  Put32(rec + 20, 0);
  std::memcpy(rec + kRecordHeader, payload.data(), payload.size());
  std::memset(rec + kRecordHeader + payload.size(), 0,
              record - kRecordHeader - payload.size());
  std::memset(buf_ + lead + record, 0, written - lead - record);
  Status s = WriteDurably(Base(active_) + start, written);
  if (!s.ok()) {
    // Not acknowledged: make sure it is not read as a record later.
    std::memset(rec, 0, kRecordHeader);
    (void)WriteDurably(Base(active_) + start,
                       (lead + kRecordHeader + u - 1) / u * u);
    return s.error();
  }
  seg.offset += static_cast<int64_t>(record);
  // Keep the sector the next record starts in at the buffer's front.
  const int64_t next_start = seg.offset / unit * unit;
  const size_t keep = static_cast<size_t>(seg.offset - next_start);
  if (keep > 0) std::memmove(buf_, buf_ + (next_start - start), keep);
  return active_;
}

}  // namespace pm
