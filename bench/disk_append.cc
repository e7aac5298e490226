// disk_append: the floor of this machine's disk for printmeter's one
// durable write per answer, the peer `make bench` measures printmeter's one
// connection against. A file of `--file-bytes` is written once with zeros
// and fsynced (as printmeter's append journal is made), then `--count`
// records of `--record-bytes` are appended to it one after another, each
// with the journal's technique (store/append_journal.h): O_DIRECT writes of
// only the 512-byte sectors the record covers, then fdatasync. Nothing else
// runs: no HTTP, no decoding, no database.
//
// With `--every-us T` an append starts every T microseconds (open loop: a
// late append starts at once), as one connection's requests reach a
// receiver at its rate; the disk then idles between appends, as it does
// under printmeter. Without it the appends run back to back.
//
//   disk_append --dir DIR [--record-bytes 2392] [--count 20000]
//               [--every-us 300]
//
// Prints one line in the same form as bench/ingest.lua's:
//   BENCH requests=N seconds=S rps=R errors=E non2xx=0 p50_ms=… p99_ms=…
//         p999_ms=… max_ms=… direct=0|1 write_bytes_per=B
// The percentiles time each append from its start (write and flush), as
// ingest.lua's each_* time each answer; a sleep that overshot its slot is
// not counted.
// (direct=0: the file system refused O_DIRECT; ordinary writes were used.)
// The file is removed at the end.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench_line.h"

namespace {

struct Args {
  std::string dir;
  size_t record_bytes = 2392;
  long count = 20000;
  long every_us = 0;
  long file_bytes = 16L << 20;
};

bool Parse(int argc, char** argv, Args& a) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--dir") {
      a.dir = value;
    } else if (flag == "--record-bytes") {
      a.record_bytes = static_cast<size_t>(std::atol(value));
    } else if (flag == "--count") {
      a.count = std::atol(value);
    } else if (flag == "--every-us") {
      a.every_us = std::atol(value);
    } else if (flag == "--file-bytes") {
      a.file_bytes = std::atol(value);
    } else {
      return false;
    }
  }
  return argc % 2 == 1 && !a.dir.empty() && a.record_bytes > 0 &&
         a.count > 0 && a.every_us >= 0 &&
         a.file_bytes >= static_cast<long>(a.record_bytes) + 4096;
}

// write_bytes of /proc/self/io: what this process caused to be written.
long WriteBytes() {
  FILE* f = std::fopen("/proc/self/io", "r");
  if (!f) return 0;
  char key[64];
  long value = 0, found = 0;
  while (std::fscanf(f, "%63s %ld", key, &value) == 2) {
    if (std::strcmp(key, "write_bytes:") == 0) found = value;
  }
  std::fclose(f);
  return found;
}

bool WriteAll(int fd, const char* data, size_t len, off_t at) {
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

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (!Parse(argc, argv, a)) {
    std::fprintf(stderr,
                 "usage: disk_append --dir DIR [--record-bytes B] [--count N] "
                 "[--every-us T] [--file-bytes F]\n");
    return 2;
  }
  const std::string path = a.dir + "/disk_append.bin";
  {
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
      std::fprintf(stderr, "disk_append: cannot create %s: %s\n", path.c_str(),
                   std::strerror(errno));
      return 1;
    }
    std::string zeros(size_t{1} << 20, '\0');
    for (long at = 0; at < a.file_bytes; at += static_cast<long>(zeros.size())) {
      size_t n = std::min<size_t>(zeros.size(), static_cast<size_t>(a.file_bytes - at));
      if (!WriteAll(fd, zeros.data(), n, at)) {
        std::fprintf(stderr, "disk_append: cannot write %s: %s\n",
                     path.c_str(), std::strerror(errno));
        return 1;
      }
    }
    if (fsync(fd) != 0) return 1;
    close(fd);
  }
  bool direct = true;
  int fd = open(path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
  if (fd < 0) {
    direct = false;
    fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  }
  if (fd < 0) return 1;
  constexpr size_t kSector = 512;
  const size_t span = (a.record_bytes + 2 * kSector) & ~(kSector - 1);
  char* buf = static_cast<char*>(std::aligned_alloc(4096, (span + 4095) & ~size_t{4095}));
  std::memset(buf, 'r', span);

  using Clock = std::chrono::steady_clock;
  std::vector<double> latencies_ms;
  latencies_ms.reserve(static_cast<size_t>(a.count));
  int errors = 0;
  const long written_before = WriteBytes();
  const auto start = Clock::now();
  auto next = start;
  off_t end = 0;  // where the next record begins
  for (long i = 0; i < a.count; ++i) {
    if (a.every_us > 0) {
      std::this_thread::sleep_until(next);
      next += std::chrono::microseconds(a.every_us);
    }
    if (end + static_cast<off_t>(span) > a.file_bytes) end = 0;  // a new lap
    const off_t from = end & ~static_cast<off_t>(kSector - 1);
    const off_t to = (end + static_cast<off_t>(a.record_bytes) + kSector - 1) &
                     ~static_cast<off_t>(kSector - 1);
    const auto t0 = Clock::now();
    bool ok = direct ? WriteAll(fd, buf, static_cast<size_t>(to - from), from)
                     : WriteAll(fd, buf, a.record_bytes, end);
    if (!ok && direct && errno == EINVAL) {  // opened with O_DIRECT, refused
      close(fd);
      direct = false;
      fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
      ok = fd >= 0 && WriteAll(fd, buf, a.record_bytes, end);
    }
    if (ok) ok = fdatasync(fd) == 0;
    if (!ok) ++errors;
    latencies_ms.push_back(
        std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    end += static_cast<off_t>(a.record_bytes);
  }
  const double seconds =
      std::chrono::duration<double>(Clock::now() - start).count();
  const long written = WriteBytes() - written_before;
  close(fd);
  std::free(buf);
  unlink(path.c_str());
  char extra[64];
  std::snprintf(extra, sizeof extra, "direct=%d write_bytes_per=%.0f",
                direct ? 1 : 0,
                static_cast<double>(written) / static_cast<double>(a.count));
  bench::PrintBenchLine(latencies_ms, seconds, errors, extra);
  return errors == 0 ? 0 : 1;
}
