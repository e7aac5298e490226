// AppendJournal: the file a SQLite store's answers wait for.
//
// A webhook's answer waits for one durable append (ledger.md section 2).
// Appended to SQLite's WAL, that append wrote four to six whole pages (the
// log's leaf, index and registry leaves, often a new page, its parent and
// page 1), ~21 KiB a webhook, and waited whenever the projector held the
// database's write lock. Here it is one record written into a file of a
// fixed size, its bytes already on the disk: a write of the sectors the
// record covers (O_DIRECT; ~1.7 KiB for a webhook) and an fdatasync that
// changes no metadata (the file never grows, and its blocks were written
// once when it was made), so no journal commit of the file system waits
// behind it. SqliteStore moves the records into the database behind the
// answers, in batches (sqlite_journal.cc), and starts the file over once
// everything in it is in the database, durably.
//
// The file ("<database>-appends", made when missing and kept) is two
// segments of half its size, used in turn. A segment:
//   bytes 0..511       header: "PMAPPEND", version, the lap, a CRC, the
//                      owner (the database the records are for)
//   4096..             the lap's records, one after another:
//                      "PMR1", payload length, the lap, CRC-32 of the
//                      lap, the length and the payload; then the payload,
//                      padded to 8 bytes
// Appends fill one segment; when it is full they go on in the other, which
// starts a new lap (its header written with the next lap number, so the
// records of its lap before, their lap different, end a reading there, as
// does a record torn by a power cut: its CRC fails). The other may start
// over only once the caller has Release()d it: every record in it is in
// the database. So a segment's records wait for their move while appends
// go on in the other, and appends never wait for a move unless the moves
// fall a whole segment behind.
//
// The owner: a token the database keeps (SqliteStore: its store_identity
// row), written into every header. ReadAll() returns only the records of
// laps with this journal's owner (or none: a file from before owners), so
// a journal left beside a database that was deleted or replaced is never
// read as its own; foreign_records() says how many it passed over.
//
// How it fails: a write or fdatasync that fails leaves the append not
// done (the caller answers 503); the record's start is then overwritten
// with zeros, so that a record whose bytes reached the disk anyway is not
// taken for an acknowledged one later. A file system that refuses O_DIRECT
// (tmpfs, some network ones) gets ordinary writes and fdatasync: the same
// guarantees, a whole page written each time.
//
// Not thread-safe: one thread appends (SqliteStore's appending thread).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pm {

class AppendJournal {
 public:
  static constexpr int64_t kDefaultSize = int64_t{16} << 20;
  static constexpr int64_t kFirstRecord = 4096;  // in a segment
  static constexpr int kSegments = 2;

  static constexpr size_t kMaxOwner = 64;

  struct Options {
    int64_t size = kDefaultSize;  // of a file made now
    bool direct = true;           // false: ordinary writes (tests)
    std::string owner;            // at most kMaxOwner bytes
  };

  // Opens the journal at `path`, making it (`options.size` bytes of zeros,
  // fsynced with its folder) when missing. Nothing is read or started:
  // ReadAll() then Start().
  static Result<std::unique_ptr<AppendJournal>> Open(const std::string& path,
                                                     Options options);
  static Result<std::unique_ptr<AppendJournal>> Open(const std::string& path) {
    return Open(path, Options{});
  }
  ~AppendJournal();
  AppendJournal(const AppendJournal&) = delete;
  AppendJournal& operator=(const AppendJournal&) = delete;

  // The payloads of both segments' current laps, each segment's in order
  // (what a crash left: the caller keeps those not yet in its database);
  // only those of laps this owner (or no owner) started.
  Result<std::vector<std::string>> ReadAll();
  // How many records the last ReadAll() passed over: those of laps another
  // owner started.
  int64_t foreign_records() const { return foreign_records_; }

  // Starts a new lap in both segments (everything ReadAll found is in the
  // database now); appends go to segment 0.
  Status Start();

  // Appends one record; its bytes are on the disk when this returns ok.
  // Returns the segment it went to. kTooLarge when it does not fit in what
  // is left of the segment in use and the other one is not released
  // (Release, then again), or in any segment (see Fits).
  Result<int> Append(std::string_view payload);

  // Every record in `segment` is in the database: it may start over. A
  // no-op for the segment in use.
  void Release(int segment);

  bool Fits(size_t payload) const;
  int active() const { return active_; }

 private:
  struct Segment {
    uint64_t lap = 0;
    int64_t offset = kFirstRecord;  // where its next record goes
    bool released = true;           // may start a new lap
  };

  AppendJournal(std::string path, int fd, int64_t segment_size, bool direct,
                std::string owner);
  // Writes `len` bytes of buf_ at `at` (aligned to align_ when direct_)
  // and fdatasyncs.
  Status WriteDurably(int64_t at, size_t len);
  // Grows buf_ to `bytes`, keeping its first `keep`.
  bool Reserve(size_t bytes, size_t keep);
  // Writes segment `k`'s header for the next lap.
  Status StartLap(int k);
  int64_t Base(int k) const { return segment_size_ * k; }

  const std::string path_;
  const std::string owner_;
  int64_t foreign_records_ = 0;
  int fd_ = -1;
  int64_t segment_size_ = 0;
  bool direct_ = false;
  size_t align_ = 512;  // of a direct write's offset and length
  uint64_t lap_ = 0;    // the latest lap started, in either segment
  Segment segments_[kSegments];
  int active_ = 0;
  // An aligned buffer (grown for a large record): the sector the next
  // record starts in (its bytes before the active segment's offset), then
  // the record being written.
  char* buf_ = nullptr;
  size_t buf_size_ = 0;
};

}  // namespace pm
