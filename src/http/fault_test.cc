// Storage faults over real HTTP, on a small file system of the test's own
// (a tmpfs mounted for it): a full disk is answered 503, never 2xx; reads
// go on; /readyz says not ready and why; and when space returns printmeter
// stores again by itself, with nothing that was acknowledged lost. (Linux
// will not remount a file system read-only while the database is open for
// writing, so the read-only case is checked with the database closed.) Needs
// permission to mount (CI runs as root); skipped with a message otherwise.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <boost/json/parse.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <string>
#include <thread>

#include "http/test_harness.h"
#include "store/append_journal.h"
#include "store/sqlite_file.h"

namespace pm {
namespace {

namespace json = boost::json;
using testing::AllEvents;
using testing::Harness;
using testing::TempDir;

bool Contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

void Figure(const char* test, const char* what, const std::string& value) {
  std::cout << "reliability-figure: FaultTest." << test << ": " << what << ": "
            << value << std::endl;
}

// A tmpfs of `size` mounted on a fresh directory, unmounted at the end.
class SmallDisk {
 public:
  explicit SmallDisk(const char* size) {
    std::string options = std::string("size=") + size + ",mode=0755";
    if (mount("printmeter-test", dir_.path().c_str(), "tmpfs", 0,
              options.c_str()) != 0) {
      error_ = std::strerror(errno);
      return;
    }
    mounted_ = true;
  }
  ~SmallDisk() {
    if (mounted_) umount2(dir_.path().c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  std::filesystem::path path() const { return dir_.path() / "data"; }
  const std::filesystem::path& root() const { return dir_.path(); }

  // Fills the disk with a file until no byte more fits.
  void Fill() {
    std::ofstream out(root() / "filler", std::ios::binary);
    std::string block(64 * 1024, 'f');
    while (out.write(block.data(), block.size())) {
    }
    out.close();
    std::ofstream small(root() / "filler-tail", std::ios::binary);
    while (small.put('f')) small.flush();
  }
  void Unfill() {
    std::filesystem::remove(root() / "filler");
    std::filesystem::remove(root() / "filler-tail");
  }
  bool Remount(bool read_only) {
    return mount("printmeter-test", dir_.path().c_str(), "tmpfs",
                 MS_REMOUNT | (read_only ? MS_RDONLY : 0), nullptr) == 0;
  }

 private:
  TempDir dir_;
  bool mounted_ = false;
  std::string error_;
};

#define SKIP_UNLESS_MOUNTED(disk)                                            \
  if (!(disk).mounted()) {                                                   \
    GTEST_SKIP() << "cannot mount a tmpfs for this test (" << (disk).error() \
                 << "); run as root to test a full disk";                    \
  }

std::string Body(int i) {
  // Bodies of a few KiB, so the WAL grows and the disk fills.
  return fmt::format(
      R"({{"deviceIdentifier":"p","apiSecret":"s","topic":"Print Progress",)"
      R"("extra":{{"progress":{}}},"message":"{}","currentTime":{}}})",
      i % 100, std::string(3000, 'm'), 1722000000 + i);
}

// Posts and keeps every acknowledged event id.
struct Poster {
  TestClient& client;
  std::set<int64_t> acked;
  int refused = 0;
  int next = 0;

  // The status of one more webhook (200 or 503 only).
  int Post() {
    auto r = client.Send("POST", "/webhook", "application/json", Body(next++));
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return 0;
    EXPECT_TRUE(r->status == 200 || r->status == 503)
        << r->status << " " << r->body;
    if (r->status == 200) {
      acked.insert(json::parse(r->body).at("event").as_int64());
    } else {
      ++refused;
      EXPECT_TRUE(Contains(r->body, "not stored")) << r->body;
    }
    return r->status;
  }
};

HttpReply Get(TestClient& c, const std::string& target) {
  auto r = c.Send("GET", target, "", "");
  EXPECT_TRUE(r.ok());
  return r.ok() ? *r : HttpReply{};
}

// Every acknowledged id is stored, and nothing else.
void ExpectAllFound(Harness& h, const std::set<int64_t>& acked,
                    const char* test) {
  std::set<int64_t> stored;
  for (const EventRecord& r : AllEvents(*h.store)) stored.insert(r.event.id);
  EXPECT_EQ(stored, acked);
  Figure(test, "requests acknowledged and found",
         fmt::format("{} of {}", stored.size(), acked.size()));
}

TEST(FaultTest, AFullDiskIsAnswered503AndHealsWhenSpaceReturns) {
  SmallDisk disk("3m");
  SKIP_UNLESS_MOUNTED(disk);
  std::filesystem::create_directories(disk.path());
  Harness h(disk.path());
  h.Start({}, {}, /*with_api=*/true);
  TestClient c(h.port());
  Poster poster{c};
  for (int i = 0; i < 20; ++i) ASSERT_EQ(poster.Post(), 200);
  EXPECT_EQ(Get(c, "/readyz").status, 200);

  disk.Fill();
  auto ready = Get(c, "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_TRUE(Contains(ready.body, "full")) << ready.body;
  // Until the WAL has no room left some writes may still fit; each is
  // either stored and acknowledged, or refused with 503.
  int tries = 0;
  while (poster.refused < 5 && tries++ < 2000) poster.Post();
  EXPECT_GE(poster.refused, 5) << "a full disk never refused a write";
  // Reads go on.
  EXPECT_EQ(Get(c, "/api/v1/sessions").status, 200);
  EXPECT_EQ(Get(c, "/api/v1/printers").status, 200);
  EXPECT_EQ(Get(c, "/readyz").status, 503);

  disk.Unfill();
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Get(c, "/readyz").status, 200) << Get(c, "/readyz").body;
  EXPECT_EQ(poster.Post(), 200) << "no recovery after space returned";
  std::chrono::duration<double, std::milli> healed =
      std::chrono::steady_clock::now() - start;
  for (int i = 0; i < 20; ++i) EXPECT_EQ(poster.Post(), 200);
  Figure("AFullDiskIsAnswered503AndHealsWhenSpaceReturns",
         "webhooks answered 503 while the disk was full",
         std::to_string(poster.refused));
  Figure("AFullDiskIsAnswered503AndHealsWhenSpaceReturns",
         "first webhook stored after space returned (ms)",
         fmt::format("{:.1f}", healed.count()));
  h.Stop();
  h.store = testing::MustOpen(h.db);
  ExpectAllFound(h, poster.acked,
                 "AFullDiskIsAnswered503AndHealsWhenSpaceReturns");
}

// As `serve` runs on SQLite, with the append journal (store/append_journal.h):
// the journal's file is full size from its start, so a full disk leaves it
// answering (durably) while the database takes nothing; once both of its
// segments wait for a move, 503; when space returns, everything it answered
// is moved in.
TEST(FaultTest, AFullDiskLeavesTheJournalAnsweringUntilItIsFullThenAllIsMovedIn) {
  SmallDisk disk("24m");
  SKIP_UNLESS_MOUNTED(disk);
  std::filesystem::create_directories(disk.path());
  Harness h(disk.path());
  if (testing::TestStoreIsPostgresql()) GTEST_SKIP() << "the append journal is SQLite's";
  // Two segments of 128 KiB, made before the store (which keeps its size).
  ASSERT_TRUE(AppendJournal::Open(h.db.substr(7) + "-appends",
                                  {.size = 256 * 1024})
                  .ok());
  h.open_options = {.writer = true, .program = "a test", .append_journal = true};
  h.Start({}, {}, /*with_api=*/true);
  TestClient c(h.port());
  Poster poster{c};
  for (int i = 0; i < 20; ++i) ASSERT_EQ(poster.Post(), 200);

  disk.Fill();
  EXPECT_EQ(Get(c, "/readyz").status, 503);
  int answered = 0, tries = 0;
  while (poster.refused < 5 && tries++ < 5000) {
    if (poster.Post() == 200) ++answered;
  }
  EXPECT_GT(answered, 20) << "the journal answered nothing while the disk "
                             "was full";
  EXPECT_GE(poster.refused, 5) << "a full journal never refused a write";

  disk.Unfill();
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int status = 0;
  while ((status = Get(c, "/readyz").status) != 200 &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(status, 200) << Get(c, "/readyz").body;
  for (int i = 0; i < 20; ++i) EXPECT_EQ(poster.Post(), 200);
  Figure("AFullDiskLeavesTheJournalAnsweringUntilItIsFullThenAllIsMovedIn",
         "webhooks answered from a 256 KiB journal while the disk was full",
         std::to_string(answered));
  h.Stop();
  h.store = testing::MustOpenAfterServe(h.db);
  ExpectAllFound(h, poster.acked,
                 "AFullDiskLeavesTheJournalAnsweringUntilItIsFullThenAllIsMovedIn");
}

// What /readyz reports for a read-only file system (Store::Ping uses
// CheckWritable): with the database closed the tmpfs can be remounted
// read-only, and the writer refuses to open on it, saying why.
TEST(FaultTest, AReadOnlyFileSystemIsReportedAndItsEndNoticed) {
  SmallDisk disk("16m");
  SKIP_UNLESS_MOUNTED(disk);
  std::filesystem::create_directories(disk.path());
  std::string path = (disk.path() / "pm.db").string();
  {
    auto store = testing::MustOpen("sqlite:" + path);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Ping().ok());
  }
  ASSERT_TRUE(sqlite::CheckWritable(path).ok());
  ASSERT_TRUE(disk.Remount(/*read_only=*/true)) << std::strerror(errno);
  Status s = sqlite::CheckWritable(path);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(s.error().message, "read-only")) << s.error().message;
  auto writer = OpenStore("sqlite:" + path,
                          OpenOptions{.writer = true, .program = "serve"});
  ASSERT_FALSE(writer.ok());
  EXPECT_TRUE(Contains(writer.error().message, path)) << writer.error().message;
  ASSERT_TRUE(disk.Remount(/*read_only=*/false)) << std::strerror(errno);
  EXPECT_TRUE(sqlite::CheckWritable(path).ok());
}

// Without a mount: the file deleted, or its header overwritten, while
// printmeter runs. /readyz says not ready, and why; webhooks are not
// acknowledged unless stored (a deleted file's writes go to the unlinked
// inode, which nobody can read: readyz is what tells the operator).
TEST(FaultTest, ReadyzSaysWhenTheDatabaseIsDeletedOrCorrupted) {
  TempDir dir;
  Harness h(dir.path());
  h.Start({}, {}, /*with_api=*/true);
  TestClient c(h.port());
  Poster poster{c};
  ASSERT_EQ(poster.Post(), 200);
  EXPECT_EQ(Get(c, "/readyz").status, 200);
  std::string path = h.db.substr(std::string("sqlite:").size());
  std::filesystem::rename(path, path + ".moved");
  auto gone = Get(c, "/readyz");
  EXPECT_EQ(gone.status, 503);
  EXPECT_TRUE(Contains(gone.body, "deleted or moved")) << gone.body;
  std::filesystem::rename(path + ".moved", path);
  EXPECT_EQ(Get(c, "/readyz").status, 200);

  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f << std::string(16, 'Z');
  }
  auto corrupt = Get(c, "/readyz");
  EXPECT_EQ(corrupt.status, 503);
  EXPECT_TRUE(Contains(corrupt.body, "not an SQLite database")) << corrupt.body;
}

}  // namespace
}  // namespace pm
