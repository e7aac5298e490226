// One writer per database: a second writer is refused with a message naming
// the first, readers are not, and the lock goes with its holder.
#include "store/writer_lock.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "store/store.h"
#include "store/store_test_util.h"
#include "store/write_batch.h"

namespace pm {
namespace {

using testing::TempDir;

const OpenOptions kServe{.writer = true, .program = "printmeter serve"};
const OpenOptions kImport{.writer = true, .program = "printmeter import"};

Result<std::unique_ptr<Store>> Open(const std::string& path,
                                    const OpenOptions& options) {
  return OpenStore("sqlite:" + path, options);
}

TEST(WriterLockTest, ASecondWriterInTheSameProcessIsRefused) {
  TempDir dir;
  std::string db = dir.File("printmeter.db");
  auto first = Open(db, kServe);
  ASSERT_TRUE(first.ok()) << first.error().message;

  auto second = Open(db, kImport);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kConflict);
  EXPECT_EQ(second.error().message,
            fmt::format("database {} is being written by another printmeter "
                        "(pid {}, `printmeter serve`); stop it first, or send "
                        "the requests to its /webhook",
                        db, getpid()));

  // Readers never need the lock, and read what the writer wrote.
  WriteBatch batch;
  DeviceRecord device{"delta", std::nullopt, 5, 6};
  batch.devices.push_back(device);
  ASSERT_TRUE(CommitBatch(**first, batch).ok());
  auto reader = Open(db, OpenOptions{});
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  auto devices = (*reader)->LoadDevices();
  ASSERT_TRUE(devices.ok());
  ASSERT_EQ(devices->size(), 1u);
  EXPECT_EQ(devices->front().device, "delta");

  // Once the first writer closes, the next one is let in.
  first->reset();
  auto third = Open(db, kImport);
  ASSERT_TRUE(third.ok()) << third.error().message;
  // ... and another database has its own lock.
  auto other = Open(dir.File("other.db"), kServe);
  EXPECT_TRUE(other.ok());
}

// A child process holds the lock until told to go; it then dies without
// closing anything, as a crashed server would.
TEST(WriterLockTest, AnotherProcessHoldsTheLockUntilItDies) {
  TempDir dir;
  std::string db = dir.File("printmeter.db");
  int ready[2], go[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(go), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(ready[0]);
    close(go[1]);
    auto store = Open(db, kServe);
    char ok = store.ok() ? 'y' : 'n';
    (void)!write(ready[1], &ok, 1);
    char c;
    (void)!read(go[0], &c, 1);  // returns when the parent closes its end
    _exit(0);                   // no destructors: the lock is not released
  }
  close(ready[1]);
  close(go[0]);
  char ok = 0;
  ASSERT_EQ(read(ready[0], &ok, 1), 1);
  ASSERT_EQ(ok, 'y');

  auto refused = Open(db, kImport);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_NE(refused.error().message.find(
                fmt::format("(pid {}, `printmeter serve`)", child)),
            std::string::npos)
      << refused.error().message;
  auto reader = Open(db, OpenOptions{});
  EXPECT_TRUE(reader.ok());

  close(go[1]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  auto after = Open(db, kImport);
  EXPECT_TRUE(after.ok()) << after.error().message;
  close(ready[0]);
}

TEST(WriterLockTest, AMissingDirectoryIsNamed) {
  auto lock = WriterLock::Acquire("/nonexistent-dir/printmeter.db", "x");
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(lock.error().message.find("/nonexistent-dir/printmeter.db"),
            std::string::npos)
      << lock.error().message;
  EXPECT_NE(lock.error().message.find("check that the directory exists"),
            std::string::npos)
      << lock.error().message;
}

// The lock is the file's, not its name's: every other name for the same
// database is refused while the first writer runs, and let in after.
TEST(WriterLockTest, AnotherNameForTheSameFileIsRefused) {
  TempDir dir;
  std::string db = dir.File("printmeter.db");
  std::filesystem::create_directory(dir.File("x"));
  auto first = Open(db, kServe);
  ASSERT_TRUE(first.ok()) << first.error().message;
  std::filesystem::create_symlink(db, dir.File("symlink.db"));
  std::filesystem::create_hard_link(db, dir.File("hardlink.db"));
  const std::string names[] = {dir.File("symlink.db"), dir.File("hardlink.db"),
                               dir.File("x/../printmeter.db"),
                               dir.File("./printmeter.db")};
  for (const std::string& name : names) {
    auto second = Open(name, kImport);
    ASSERT_FALSE(second.ok()) << name << " was let in";
    EXPECT_EQ(second.error().code, ErrorCode::kConflict) << name;
    EXPECT_NE(second.error().message.find(name), std::string::npos)
        << second.error().message;
  }
  // The symlink and "x/.." lead to the same lock file: the note names the
  // holder. (A hard link has a lock file of its own name; it is refused by
  // the database file's lock, without the note.)
  auto via_symlink = Open(dir.File("symlink.db"), kImport);
  ASSERT_FALSE(via_symlink.ok());
  EXPECT_NE(via_symlink.error().message.find(
                fmt::format("(pid {}, `printmeter serve`)", getpid())),
            std::string::npos)
      << via_symlink.error().message;

  first->reset();
  for (const std::string& name : names) {
    auto next = Open(name, kImport);
    EXPECT_TRUE(next.ok()) << name << ": " << next.error().message;
  }
}

}  // namespace
}  // namespace pm
