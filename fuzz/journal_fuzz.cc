// libFuzzer target for the append journal (store/append_journal.h) and its
// records (store/journal_record.h), what the next writer reads after a
// crash:
// - any bytes as a record: journal::Decode answers a batch or an error,
//   never crashes; a batch it answers encodes to bytes that decode to the
//   same encoding (nothing read is lost or invented on the way);
// - a journal written by real appends, then damaged (bytes flipped, the
//   file cut short): ReadAll never crashes and answers, for each segment, a
//   prefix of what was appended there, in order; never a record that was
//   not appended, never one past a damaged one.
//
// Input: byte 0 the number of appends (0-63); then a little-endian 16-bit
// size for each (the payload's bytes follow from its index); then damage,
// 4 bytes at a time: a 24-bit offset into the file and a byte to xor there
// (0: cut the file short at that offset instead).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "store/append_journal.h"
#include "store/journal_record.h"

namespace {

void Check(bool promise, const char* what) {
  if (!promise) {
    std::fprintf(stderr, "broken promise: %s\n", what);
    std::abort();
  }
}

std::string Path() {
  static const std::string path = [] {
    const char* shm = "/dev/shm";
    std::string base = access(shm, W_OK) == 0 ? shm : "/tmp";
    return base + "/printmeter-journal-fuzz-" + std::to_string(getpid());
  }();
  return path;
}

void FuzzRecord(std::string_view bytes) {
  auto batch = pm::journal::Decode(bytes);
  if (!batch.ok()) {
    Check(!batch.error().message.empty(), "a refusal says why");
    return;
  }
  const std::string again = pm::journal::Encode(*batch);
  auto back = pm::journal::Decode(again);
  Check(back.ok(), "a decoded record's encoding decodes");
  Check(pm::journal::Encode(*back) == again, "encoding what was read is stable");
}

void FuzzFile(const uint8_t* data, size_t size) {
  if (size == 0) return;
  const std::string path = Path();
  unlink(path.c_str());
  constexpr int64_t kSize = 2 * (pm::AppendJournal::kFirstRecord + 8192);
  size_t at = 0;
  const int appends = data[at++] & 63;
  std::vector<std::string> segments[2];
  {
    auto journal = pm::AppendJournal::Open(
        path, {.size = kSize, .direct = false, .owner = "fuzz"});
    Check(journal.ok(), "a new journal opens");
    Check((*journal)->ReadAll().ok() && (*journal)->Start().ok(),
          "a new journal starts");
    for (int i = 0; i < appends && at + 2 <= size; ++i, at += 2) {
      // At least one byte, the first its index: no two payloads alike.
      size_t length = 1 + (data[at] | (data[at + 1] << 8)) % 6000;
      std::string payload(length, static_cast<char>(i));
      for (size_t k = 1; k < length; ++k) {
        payload[k] = static_cast<char>(i * 31 + k * 7);
      }
      auto segment = (*journal)->Append(payload);
      if (!segment.ok()) continue;  // too large, or both segments full
      segments[*segment].push_back(std::move(payload));
    }
  }
  int fd = open(path.c_str(), O_RDWR);
  Check(fd >= 0, "the journal file is there");
  for (; at + 4 <= size; at += 4) {
    const off_t offset =
        (data[at] | (data[at + 1] << 8) | (data[at + 2] << 16)) % kSize;
    const uint8_t flip = data[at + 3];
    if (flip == 0) {
      Check(ftruncate(fd, offset) == 0, "the file is cut short");
      continue;
    }
    uint8_t byte = 0;
    if (pread(fd, &byte, 1, offset) != 1) continue;
    byte ^= flip;
    Check(pwrite(fd, &byte, 1, offset) == 1, "a byte is damaged");
  }
  close(fd);
  auto journal = pm::AppendJournal::Open(path, {.direct = false, .owner = "fuzz"});
  if (!journal.ok()) {  // cut too short to be a journal: said so
    Check(!journal.error().message.empty(), "a refusal says why");
    unlink(path.c_str());
    return;
  }
  auto read = (*journal)->ReadAll();
  unlink(path.c_str());
  if (!read.ok()) {
    Check(!read.error().message.empty(), "a refusal says why");
    return;
  }
  // Segment 0's records, then segment 1's: a prefix of each.
  size_t k = 0;
  for (const auto& appended : segments) {
    size_t n = 0;
    while (k < read->size() && n < appended.size() && (*read)[k] == appended[n]) {
      ++k;
      ++n;
    }
  }
  Check(k == read->size(), "only appended records, in order, each segment's a prefix");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzRecord(std::string_view(reinterpret_cast<const char*>(data), size));
  FuzzFile(data, size);
  return 0;
}
