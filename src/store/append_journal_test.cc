// The append journal (append_journal.h), its records (journal_record.h),
// and SqliteStore answering from it (sqlite_journal.cc): what a crash
// leaves is moved in by the next writer, once; the writer's lookups see the
// appends not yet moved.
#include "store/append_journal.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

#include "store/journal_record.h"
#include "store/sqlite_store.h"
#include "store/store_test_util.h"

namespace pm {
namespace {

using testing::BareEvent;
using testing::FullEvent;
using testing::TempDir;

// What printmeter logs while `f` runs.
std::string LoggedWhile(const std::function<void()>& f) {
  std::ostringstream out;
  auto before = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(out)));
  f();
  spdlog::set_default_logger(before);
  return out.str();
}

std::unique_ptr<AppendJournal> MustOpenJournal(const std::string& path,
                                               int64_t size = 64 * 1024,
                                               bool direct = true) {
  auto j = AppendJournal::Open(path, {.size = size, .direct = direct});
  EXPECT_TRUE(j.ok()) << (j.ok() ? "" : j.error().message);
  return j.ok() ? std::move(*j) : nullptr;
}

std::vector<std::string> ReadBack(const std::string& path) {
  auto j = MustOpenJournal(path);
  if (!j) return {};
  auto lap = j->ReadAll();
  EXPECT_TRUE(lap.ok()) << (lap.ok() ? "" : lap.error().message);
  return lap.ok() ? *lap : std::vector<std::string>();
}

void FlipByte(const std::string& path, int64_t at) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(at);
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x40);
  f.seekp(at);
  f.write(&c, 1);
}

TEST(AppendJournalTest, RecordsComeBackInOrderUntilTheNextLap) {
  for (bool direct : {true, false}) {
    SCOPED_TRACE(direct ? "direct writes" : "ordinary writes");
    TempDir dir;
    const std::string path = dir.File("j");
    std::vector<std::string> written;
    {
      auto j = MustOpenJournal(path, 256 * 1024, direct);
      ASSERT_NE(j, nullptr);
      ASSERT_TRUE(j->ReadAll().ok());
      EXPECT_TRUE(j->ReadAll()->empty()) << "a new file holds no record";
      ASSERT_TRUE(j->Start().ok());
      // Sizes that start and end records anywhere in a sector.
      std::mt19937 rng(7);
      for (int i = 0; i < 60; ++i) {
        std::string payload(rng() % 1500, '\0');
        for (char& c : payload) c = static_cast<char>(rng());
        auto segment = j->Append(payload);
        ASSERT_TRUE(segment.ok()) << "record " << i;
        EXPECT_EQ(*segment, 0);
        written.push_back(std::move(payload));
      }
      written.push_back("");
      ASSERT_TRUE(j->Append("").ok());
    }
    EXPECT_EQ(ReadBack(path), written);
    // A new lap: the records before are gone, even where the new lap's
    // records end before theirs did.
    {
      auto j = MustOpenJournal(path);
      ASSERT_TRUE(j->ReadAll().ok());
      ASSERT_TRUE(j->Start().ok());
      ASSERT_TRUE(j->Append("only this").ok());
    }
    EXPECT_EQ(ReadBack(path), std::vector<std::string>{"only this"});
  }
}

TEST(AppendJournalTest, ADamagedOrTornRecordEndsTheLapThere) {
  TempDir dir;
  const std::string path = dir.File("j");
  {
    auto j = MustOpenJournal(path);
    ASSERT_TRUE(j->ReadAll().ok());
    ASSERT_TRUE(j->Start().ok());
    for (const char* p : {"first", "second record", "third"}) {
      ASSERT_TRUE(j->Append(p).ok());
    }
  }
  EXPECT_EQ(ReadBack(path).size(), 3u);
  // The second record's payload starts after the first (24 + 8 bytes) and
  // its own 24-byte header.
  FlipByte(path, AppendJournal::kFirstRecord + 32 + 24 + 3);
  EXPECT_EQ(ReadBack(path), std::vector<std::string>{"first"});
  FlipByte(path, AppendJournal::kFirstRecord + 2);  // the first's magic
  EXPECT_TRUE(ReadBack(path).empty());
  // A damaged header (a lap's start torn by a power cut): no records.
  FlipByte(path, AppendJournal::kFirstRecord + 2);
  FlipByte(path, 13);
  EXPECT_TRUE(ReadBack(path).empty());
}

TEST(AppendJournalTest, SegmentsTakeTurnsEachStartingOverOnceReleased) {
  TempDir dir;
  const std::string path = dir.File("j");
  auto j = MustOpenJournal(path, 32 * 1024);  // segments of 16 KiB
  ASSERT_NE(j, nullptr);
  ASSERT_TRUE(j->ReadAll().ok());
  ASSERT_TRUE(j->Start().ok());
  const std::string payload(1000, 'x');  // 1,024 bytes a record
  constexpr int kPerSegment = (16 * 1024 - AppendJournal::kFirstRecord) / 1024;
  std::vector<int> segments;
  Result<int> s = 0;
  while ((s = j->Append(payload)).ok()) segments.push_back(*s);
  EXPECT_EQ(s.error().code, ErrorCode::kTooLarge) << s.error().message;
  // The first segment, then the second (free from the start), then none:
  // the first is not released.
  ASSERT_EQ(segments.size(), 2u * kPerSegment);
  EXPECT_EQ(std::count(segments.begin(), segments.end(), 0), kPerSegment);
  EXPECT_EQ(segments.back(), 1);
  EXPECT_EQ(ReadBack(path).size(), 2u * kPerSegment);
  j->Release(1);  // the segment in use: nothing changes
  EXPECT_FALSE(j->Append(payload).ok());
  j->Release(0);
  auto again = j->Append("after the release");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, 0);
  // The first segment's earlier lap is gone; the second's records stay.
  std::vector<std::string> back = ReadBack(path);
  ASSERT_EQ(back.size(), kPerSegment + 1u);
  EXPECT_EQ(back.front(), "after the release");
  EXPECT_FALSE(j->Fits(16 * 1024)) << "no segment holds a record this large";
  auto large = j->Append(std::string(16 * 1024, 'y'));
  ASSERT_FALSE(large.ok());
  EXPECT_EQ(large.error().code, ErrorCode::kTooLarge);
}

TEST(AppendJournalTest, ALapsOwnerDecidesWhoseRecordsItHolds) {
  TempDir dir;
  const std::string path = dir.File("j");
  auto open = [&](const std::string& owner) {
    auto j = AppendJournal::Open(path, {.size = 64 * 1024, .owner = owner});
    EXPECT_TRUE(j.ok()) << (j.ok() ? "" : j.error().message);
    return j.ok() ? std::move(*j) : nullptr;
  };
  {
    auto j = open("database-a");
    ASSERT_NE(j, nullptr);
    ASSERT_TRUE(j->ReadAll().ok());
    ASSERT_TRUE(j->Start().ok());
    ASSERT_TRUE(j->Append("first").ok());
    ASSERT_TRUE(j->Append("second").ok());
  }
  const std::vector<std::string> both{"first", "second"};
  for (const char* owner : {"database-a", "database-b", ""}) {
    SCOPED_TRACE(std::string("read by \"") + owner + "\"");
    auto j = open(owner);
    ASSERT_NE(j, nullptr);
    auto read = j->ReadAll();
    ASSERT_TRUE(read.ok()) << read.error().message;
    const bool own = std::string(owner) == "database-a";
    EXPECT_EQ(*read, own ? both : std::vector<std::string>());
    EXPECT_EQ(j->foreign_records(), own ? 0 : 2);
  }
  // A header from before owners, as that printmeter wrote it (magic,
  // version 1, the lap, 0 where the CRC goes): its records are taken as
  // the reader's own.
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    char head[24];
    f.read(head, sizeof head);
    const char one[4] = {1, 0, 0, 0};
    std::memcpy(head + 8, one, 4);
    std::memset(head + 20, 0, 4);
    f.seekp(0);
    f.write(head, sizeof head);
    const std::string no_owner(AppendJournal::kMaxOwner + 4, '\0');
    f.write(no_owner.data(), static_cast<std::streamsize>(no_owner.size()));
  }
  auto legacy = open("database-b");
  ASSERT_NE(legacy, nullptr);
  auto read = legacy->ReadAll();
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(*read, both);
  EXPECT_EQ(legacy->foreign_records(), 0);
  // Started again, the laps are the new owner's.
  ASSERT_TRUE(legacy->Start().ok());
  ASSERT_TRUE(legacy->Append("third").ok());
  legacy.reset();
  auto a = open("database-a");
  EXPECT_TRUE(a->ReadAll()->empty());
  EXPECT_EQ(a->foreign_records(), 1);
  auto too_long =
      AppendJournal::Open(path, {.owner = std::string(AppendJournal::kMaxOwner + 1, 'x')});
  EXPECT_FALSE(too_long.ok());
}

TEST(AppendJournalTest, AFileThatCannotBeAJournalIsRefusedSayingWhy) {
  TempDir dir;
  {
    std::ofstream(dir.File("small")) << "not a journal";
  }
  auto small = AppendJournal::Open(dir.File("small"));
  ASSERT_FALSE(small.ok());
  EXPECT_NE(small.error().message.find("too small"), std::string::npos)
      << small.error().message;
  std::filesystem::create_directory(dir.File("folder"));
  auto folder = AppendJournal::Open(dir.File("folder"));
  ASSERT_FALSE(folder.ok());
  EXPECT_NE(folder.error().message.find("not a regular file"),
            std::string::npos)
      << folder.error().message;
}

journal::Batch SampleBatch() {
  journal::Batch b;
  journal::JournaledEvent full;
  full.record.event = FullEvent(41);
  full.record.duplicate = true;
  full.record.decoder = -1234567890123;
  full.record.request =
      StoredRequest{"POST", "/webhook?x=1", "multipart/form-data; b=1", ""};
  full.record.request->picture =
      StoredPicture{17, 4, "image/jpeg", std::string("\xff\xd8\0\x01", 4)};
  full.body = {std::string("z\0y", 3), 2392};
  b.events.push_back(full);
  journal::JournaledEvent swept;
  swept.record.event = BareEvent(42, "beta", Kind::kSwept, 1718000000000);
  b.events.push_back(swept);
  journal::JournaledEvent bare;
  bare.record.event = BareEvent(43, "", Kind::kOther, -5);
  bare.record.request = StoredRequest{"POST", "", "", ""};
  b.events.push_back(bare);
  b.devices = {{"delta", "s3cret", 1, 2}, {"beta", std::nullopt, 3, 4}};
  return b;
}

TEST(JournalRecordTest, EveryFieldComesBackAsWritten) {
  journal::Batch b = SampleBatch();
  auto back = journal::Decode(journal::Encode(b));
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->events.size(), b.events.size());
  for (size_t i = 0; i < b.events.size(); ++i) {
    const EventRecord& want = b.events[i].record;
    const EventRecord& got = back->events[i].record;
    EXPECT_EQ(got.event, want.event) << i;
    EXPECT_EQ(got.duplicate, want.duplicate) << i;
    EXPECT_EQ(got.decoder, want.decoder) << i;
    ASSERT_EQ(got.request.has_value(), want.request.has_value()) << i;
    if (want.request) {
      EXPECT_EQ(got.request->method, want.request->method);
      EXPECT_EQ(got.request->target, want.request->target);
      EXPECT_EQ(got.request->content_type, want.request->content_type);
      ASSERT_EQ(got.request->picture.has_value(),
                want.request->picture.has_value());
      if (want.request->picture) {
        EXPECT_EQ(got.request->picture->offset, want.request->picture->offset);
        EXPECT_EQ(got.request->picture->size, want.request->picture->size);
        EXPECT_EQ(got.request->picture->content_type,
                  want.request->picture->content_type);
        EXPECT_EQ(got.request->picture->bytes, want.request->picture->bytes);
      }
    }
    EXPECT_EQ(back->events[i].body.bytes, b.events[i].body.bytes) << i;
    EXPECT_EQ(back->events[i].body.size, b.events[i].body.size) << i;
  }
  EXPECT_EQ(back->devices, b.devices);
}

TEST(JournalRecordTest, CutShortOrChangedBytesAreRefusedNeverMisread) {
  const std::string bytes = journal::Encode(SampleBatch());
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto cut = journal::Decode(std::string_view(bytes).substr(0, n));
    EXPECT_FALSE(cut.ok()) << "cut to " << n << " bytes";
  }
  EXPECT_FALSE(journal::Decode(bytes + "x").ok());
  // Any byte changed: refused, or read as something (a changed value);
  // never a crash (ASan and UBSan run this too).
  std::mt19937 rng(11);
  for (int i = 0; i < 2000; ++i) {
    std::string changed = bytes;
    changed[rng() % changed.size()] = static_cast<char>(rng());
    (void)journal::Decode(changed);
  }
}

// --- SqliteStore answering from the journal ---

EventRecord Request(const std::string& device, TimeMs time,
                    const std::string& body) {
  EventRecord r;
  r.event = BareEvent(0, device, Kind::kProgress, time);
  r.request = StoredRequest{"POST", "/webhook", "application/json", body};
  return r;
}

LogBatch Batch(std::vector<EventRecord> events,
               std::vector<DeviceRecord> devices = {}) {
  LogBatch b;
  b.decide_duplicates = true;
  b.events = std::move(events);
  b.devices = std::move(devices);
  return b;
}

std::unique_ptr<Store> OpenServing(const std::string& path) {
  auto store = OpenStore("sqlite:" + path, {.writer = true,
                                            .program = "a test",
                                            .append_journal = true});
  EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error().message);
  return store.ok() ? std::move(*store) : nullptr;
}

std::vector<EventRecord> Logged(Store& store) {
  std::vector<EventRecord> out;
  EXPECT_TRUE(store.ForEachEvent([&](const EventRecord& r) {
                       out.push_back(r);
                       return Status();
                     }).ok());
  return out;
}

// A child process opens `path` as `serve` does, appends (answers) what
// `append(store, i)` makes of i = 0..count-1 (false: that append failed),
// and dies without closing anything: what is pending stays in the journal
// only. Returns the child's exit status (0: every append answered).
int AppendInAWriterThatDies(const std::string& path, int count,
                            const std::function<bool(Store&, int)>& append) {
  pid_t child = fork();
  if (child < 0) return -1;
  if (child == 0) {
    auto opened = OpenStore("sqlite:" + path, {.writer = true,
                                               .program = "a child",
                                               .append_journal = true});
    if (!opened.ok()) _exit(2);
    for (int i = 0; i < count; ++i) {
      if (!append(**opened, i)) _exit(3);
    }
    _exit(0);  // no destructor
  }
  int status = 0;
  if (waitpid(child, &status, 0) != child || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

TEST(SqliteJournalTest, TheWritersLookupsSeeAppendsNotYetMoved) {
  TempDir dir;
  auto store = OpenServing(dir.File("pm.db"));
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(std::filesystem::exists(dir.File("pm.db-appends")));
  LogBatch first = Batch({Request("alpha", 1000, "a1")},
                         {{"alpha", "first", 1000, 1000}});
  ASSERT_TRUE(store->Append(first).ok());
  EXPECT_EQ(first.events[0].event.id, 1);
  EXPECT_FALSE(first.events[0].duplicate);
  EXPECT_EQ(*store->LastEventId(), 1);
  EXPECT_TRUE(Logged(*store).empty()) << "answered from the journal only";
  // The registration, the count and the lag know of it.
  auto found = store->FindDevices({"alpha"});
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].secret, "first");
  EXPECT_EQ(*store->CountDevices(), 1);
  auto lag = store->Lag();
  ASSERT_TRUE(lag.ok());
  EXPECT_EQ(lag->logged, 1);
  EXPECT_EQ(lag->oldest_unprojected, TimeMs{1007});
  // A resend is a duplicate of the pending one; another secret loses to it.
  LogBatch again = Batch({Request("alpha", 1000, "a1 again"),
                          Request("alpha", 2000, "a2")},
                         {{"alpha", "second", 1000, 1000}});
  ASSERT_TRUE(store->Append(again).ok());
  ASSERT_EQ(again.lost.size(), 1u);
  EXPECT_EQ(again.lost[0].secret, "first");
  EXPECT_EQ(again.events[0].event.id, 0) << "a lost registration stores nothing";
  LogBatch resend = Batch({Request("alpha", 1000, "a1 resent")});
  ASSERT_TRUE(store->Append(resend).ok());
  EXPECT_EQ(resend.events[0].event.id, 2);
  EXPECT_TRUE(resend.events[0].duplicate);
  // The projector's read moves them into the database first.
  auto read = store->ReadLog(0, 10);
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->size(), 2u);
  EXPECT_TRUE((*read)[1].duplicate);
  std::vector<EventRecord> logged = Logged(*store);
  ASSERT_EQ(logged.size(), 2u);
  EXPECT_EQ(logged[1].request->body, "a1 resent");
  EXPECT_EQ(*store->CountDevices(), 1) << "counted once, moved";
  // And once moved, the database decides the same way.
  LogBatch later = Batch({Request("alpha", 1000, "a1 third time")},
                         {{"alpha", "third", 1000, 1000}});
  ASSERT_TRUE(store->Append(later).ok());
  EXPECT_EQ(later.lost.size(), 1u);
  LogBatch resent = Batch({Request("alpha", 1000, "a1 once more")});
  ASSERT_TRUE(store->Append(resent).ok());
  EXPECT_EQ(resent.events[0].event.id, 3);
  EXPECT_TRUE(resent.events[0].duplicate);
}

class KilledWriterTest : public ::testing::TestWithParam<int64_t> {};

// With the default journal, and with one so small that its segments take
// turns many times (the appender moving what the projector did not).
INSTANTIATE_TEST_SUITE_P(SqliteJournal, KilledWriterTest,
                         ::testing::Values(0, 16 * 1024));

TEST_P(KilledWriterTest, WhatAKilledWriterAnsweredIsMovedInByTheNextOnce) {
  TempDir dir;
  const std::string path = dir.File("pm.db");
  if (GetParam() > 0) {
    ASSERT_NE(MustOpenJournal(path + "-appends", GetParam()), nullptr);
  }
  constexpr int kBatches = 40;
  ASSERT_EQ(AppendInAWriterThatDies(
                path, kBatches,
                [](Store& store, int i) {
                  std::string device = "p" + std::to_string(i % 3);
                  LogBatch b = Batch(
                      {Request(device, 1000 * i, "body " + std::to_string(i)),
                       Request(device, 1000 * i, "resent")},
                      {{device, "secret-" + device, 5, 5}});
                  if (!store.Append(b).ok()) return false;
                  // The projector moves some of them meanwhile.
                  return i != 10 || store.ReadLog(0, 1).ok();
                }),
            0);
  {
    // A reader sees only what was moved before the kill.
    auto reader = testing::MustOpen(path);
    ASSERT_NE(reader, nullptr);
    size_t moved = Logged(*reader).size();
    EXPECT_GE(moved, 22u);
    EXPECT_LT(moved, 2u * kBatches) << "nothing was left in the journal";
  }
  for (int open = 0; open < 2; ++open) {
    SCOPED_TRACE(open == 0 ? "the first writer after the kill"
                           : "the writer after it");
    auto store = OpenStore("sqlite:" + path, {.writer = true, .program = "t"});
    ASSERT_TRUE(store.ok()) << store.error().message;
    std::vector<EventRecord> logged = Logged(**store);
    ASSERT_EQ(logged.size(), 2u * kBatches);
    for (int i = 0; i < kBatches; ++i) {
      const EventRecord& r = logged[2 * i];
      EXPECT_EQ(r.event.id, 2 * i + 1);
      EXPECT_EQ(r.request->body, "body " + std::to_string(i));
      EXPECT_FALSE(r.duplicate);
      EXPECT_TRUE(logged[2 * i + 1].duplicate);
      EXPECT_EQ(logged[2 * i + 1].request->body, "resent");
    }
    auto devices = (*store)->LoadDevices();
    ASSERT_TRUE(devices.ok());
    ASSERT_EQ(devices->size(), 3u);
    EXPECT_EQ((*devices)[2].secret, "secret-p2");
    EXPECT_EQ(*(*store)->LastEventId(), 2 * kBatches);
  }
}

// The database deleted (to start over) or replaced (a copy from another
// machine) while its journal stays: the journal's records are not this
// database's, and must never come back in it.
TEST(SqliteJournalTest, AJournalLeftBesideAReplacedDatabaseIsNeverMovedIn) {
  TempDir dir;
  const std::string path = dir.File("pm.db");
  auto remove_database = [&] {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(path + suffix);
    }
  };
  // A clean stop: everything moved, the journal left empty.
  {
    auto store = OpenServing(path);
    ASSERT_NE(store, nullptr);
    LogBatch b = Batch({Request("alpha", 1000, "before")},
                       {{"alpha", "s", 5, 5}});
    ASSERT_TRUE(store->Append(b).ok());
  }
  {
    auto j = MustOpenJournal(path + "-appends");
    ASSERT_TRUE(j->ReadAll()->empty());
    EXPECT_EQ(j->foreign_records(), 0) << "a clean stop leaves no record";
  }
  remove_database();
  {
    auto store = OpenServing(path);
    ASSERT_NE(store, nullptr);
    EXPECT_TRUE(Logged(*store).empty());
    EXPECT_EQ(*store->LastEventId(), 0);
  }
  EXPECT_FALSE(std::filesystem::exists(path + "-appends.other-1"))
      << "an empty journal is simply started over";
  // A killed writer: its answered appends wait in the journal.
  ASSERT_EQ(AppendInAWriterThatDies(path, 5,
                                    [](Store& store, int i) {
                                      LogBatch b = Batch(
                                          {Request("beta", 1000 * i,
                                                   "old " + std::to_string(i))},
                                          {{"beta", "old secret", 5, 5}});
                                      return store.Append(b).ok();
                                    }),
            0);
  remove_database();
  for (int open = 0; open < 2; ++open) {
    SCOPED_TRACE(open == 0 ? "the first writer on the new database"
                           : "the writer after it");
    std::unique_ptr<Store> store;
    const std::string log = LoggedWhile([&] { store = OpenServing(path); });
    ASSERT_NE(store, nullptr);
    // The start that sets the journal aside says so, once.
    EXPECT_EQ(log.find("set aside earlier") == std::string::npos, open == 0)
        << log;
    EXPECT_EQ(Logged(*store).size(), static_cast<size_t>(open))
        << "only this database's webhooks, none of the other's";
    auto found = store->FindDevices({"beta"});
    ASSERT_TRUE(found.ok());
    EXPECT_TRUE(found->empty()) << "nor its registrations";
    LogBatch b = Batch({Request("gamma", 1000 + open, "new")});
    ASSERT_TRUE(store->Append(b).ok());
    EXPECT_EQ(b.events[0].event.id, open + 1);
  }
  // The other database's answered webhooks are kept, under another name.
  ASSERT_TRUE(std::filesystem::exists(path + "-appends.other-1"));
  EXPECT_FALSE(std::filesystem::exists(path + "-appends.other-2"));
  auto aside = MustOpenJournal(path + "-appends.other-1");
  ASSERT_NE(aside, nullptr);
  EXPECT_TRUE(aside->ReadAll()->empty());
  EXPECT_EQ(aside->foreign_records(), 5);
  aside.reset();
  // Every start says it is still there, until it is deleted.
  std::unique_ptr<Store> store;
  std::string log = LoggedWhile([&] { store = OpenServing(path); });
  ASSERT_NE(store, nullptr);
  EXPECT_NE(log.find("1 journal(s) set aside earlier are still beside the "
                     "database (" + path + "-appends.other-1; 16 MiB)"),
            std::string::npos)
      << log;
  ASSERT_EQ(Logged(*store).size(), 2u);
  store.reset();
  std::filesystem::remove(path + "-appends.other-1");
  log = LoggedWhile([&] { store = OpenServing(path); });
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(log.find("set aside"), std::string::npos) << log;
}

TEST(SqliteJournalTest, AFullJournalIsMovedByTheAppenderItself) {
  TempDir dir;
  const std::string path = dir.File("pm.db");
  // A small journal, made before the store: it keeps the file's size.
  ASSERT_NE(MustOpenJournal(path + "-appends", 16 * 1024), nullptr);
  auto store = OpenServing(path);
  ASSERT_NE(store, nullptr);
  constexpr int kEvents = 100;  // ~1.3 KiB each: several times the file
  auto body = [](int i) {  // that compression does not shrink
    std::mt19937 rng(static_cast<unsigned>(i));
    std::string b(1000, '\0');
    for (char& c : b) c = static_cast<char>(rng());
    return b;
  };
  for (int i = 0; i < kEvents; ++i) {
    LogBatch b = Batch({Request("p", i, body(i))});
    ASSERT_TRUE(store->Append(b).ok()) << i;
    ASSERT_EQ(b.events[0].event.id, i + 1);
  }
  // Moved with no projector reading: all but the last few.
  std::vector<EventRecord> logged = Logged(*store);
  EXPECT_GE(logged.size(), size_t{kEvents} - 10);
  EXPECT_LT(logged.size(), size_t{kEvents});
  for (size_t i = 0; i < logged.size(); ++i) {
    EXPECT_EQ(logged[i].event.id, static_cast<int64_t>(i) + 1);
    EXPECT_EQ(logged[i].request->body, body(static_cast<int>(i)));
  }
  // A record larger than the whole file goes into the database directly,
  // after what is pending.
  std::string large;
  for (int i = 0; i < 64; ++i) large += body(1000 + i);
  LogBatch big = Batch({Request("p", 5000, large)});
  ASSERT_TRUE(store->Append(big).ok());
  logged = Logged(*store);
  ASSERT_EQ(logged.size(), size_t{kEvents} + 1);
  EXPECT_EQ(logged.back().event.id, kEvents + 1);
  EXPECT_EQ(logged.back().request->body, large);
}

}  // namespace
}  // namespace pm
