// pictures_disk: what the webcam pictures of one busy printer cost on disk
// (README "Pictures"). Feeds the ingest writer (decode, durable append,
// projection, retention rule) the multipart requests the Webhooks plugin
// sends for `--days` days of `--prints` prints a day of `--hours` hours,
// a Print Progress event at every 1% between Print Started and Print Done,
// each with a `--picture`-byte picture (random bytes: a JPEG does not
// compress), then reports the database's size as left (WAL checkpointed)
// and after a VACUUM.
//
//   pictures_disk --db sqlite:year.db [--days 365] [--pictures prints]
//
// Refuses a database that already holds events (write into a new file).
#include <fmt/format.h>
#include <sqlite3.h>

#include <CLI/CLI.hpp>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>

#include "decode/decode.h"
#include "decode/test_request.h"
#include "ingest/writer.h"

namespace pm {
namespace {

struct Options {
  std::string db;
  int days = 365;
  int prints = 8;
  double hours = 3;
  size_t picture = 14'000;
  std::string pictures = "prints";
};

// A Print Progress body as the plugin's default template sends it (fixture
// plugin/07_print_progress_50.json), for another topic, progress and time.
std::string Body(std::string_view topic, int pct, int64_t time_s) {
  return fmt::format(
      R"({{"deviceIdentifier": "busy", "apiSecret": "3f9c1a7be2d44e0b", )"
      R"("topic": "{0}", "message": "Your print is {1} % complete.", )"
      R"("extra": {{}}, "state": {{"text": "Printing", "flags": )"
      R"({{"operational": true, "printing": true, "cancelling": false, )"
      R"("pausing": false, "resuming": false, "finishing": false, )"
      R"("closedOrError": false, "error": false, "paused": false, )"
      R"("ready": false, "sdReady": true}}, "error": ""}}, "job": {{"file": )"
      R"({{"name": "CE3PRO_calibration_cube.gcode", "path": )"
      R"("calibration/CE3PRO_calibration_cube.gcode", "display": )"
      R"("CE3PRO_calibration_cube.gcode", "origin": "local", "size": )"
      R"(1338274, "date": 1717929071}}, "estimatedPrintTime": 10800.5, )"
      R"("averagePrintTime": 10841.2, "lastPrintTime": 10841.2, )"
      R"("filament": {{"tool0": {{"length": 4123.48192, "volume": )"
      R"(9.917952178411307}}}}, "user": "pi"}}, "progress": {{"completion": )"
      R"({1}, "filepos": 669166, "printTime": 1398, "printTimeLeft": 1342, )"
      R"("printTimeLeftOrigin": "estimate"}}, "currentZ": 10.2, )"
      R"("offsets": {{}}, "meta": {{"hash": )"
      R"("5b8f0c2e8a1d47f39e0b6c1d2a3f4e5d6c7b8a90"}}, )"
      R"("currentTime": {2}}})",
      topic, pct, time_s);
}

// Submits with at most `kWindow` requests waiting for their answer.
class Feeder {
 public:
  explicit Feeder(IngestWriter& writer) : writer_(writer) {}
  void Post(const std::string& json, const std::string& picture,
            TimeMs received_at) {
    testing::OwnedRequest r = testing::AsMultipart(json, picture);
    auto decoded = Decode(r.View(received_at));
    if (!decoded) {
      fmt::print(stderr, "does not decode: {}\n", decoded.error().message);
      std::exit(1);
    }
    IngestItem item;
    item.decoded = std::move(*decoded);
    item.request = StoredRequest{r.method, r.target, r.content_type,
                                 std::move(r.body)};
    std::unique_lock lock(mu_);
    idle_.wait(lock, [&] { return in_flight_ < kWindow; });
    ++in_flight_;
    lock.unlock();
    writer_.Submit(std::move(item), [this](Result<Verdict> v) {
      if (!v) {
        fmt::print(stderr, "not stored: {}\n", v.error().message);
        std::exit(1);
      }
      std::lock_guard guard(mu_);
      --in_flight_;
      idle_.notify_all();
    });
  }

 private:
  static constexpr int kWindow = 512;
  IngestWriter& writer_;
  std::mutex mu_;
  std::condition_variable idle_;
  int in_flight_ = 0;
};

int64_t SqliteInt(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
  int64_t v = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0)
                                                : -1;
  sqlite3_finalize(stmt);
  return v;
}

int Run(const Options& o) {
  auto rule = PictureRetentionFromName(o.pictures);
  if (!rule) {
    fmt::print(stderr, "--pictures {} is not one of prints, all, none\n",
               o.pictures);
    return 2;
  }
  int64_t events = 0;
  {
    auto store = OpenStore(o.db, OpenOptions{.writer = true,
                                             .program = "pictures_disk"});
    if (!store) {
      fmt::print(stderr, "{}\n", store.error().message);
      return 1;
    }
    auto lag = (*store)->Lag();
    if (!lag || lag->logged > 0) {
      fmt::print(stderr, "{} already holds events; give a new file\n", o.db);
      return 1;
    }
    SystemClock clock;
    IngestOptions options;
    options.auth = AuthMode::kOpen;
    options.sweep_interval = 0;
    options.pictures = *rule;
    IngestWriter writer(**store, options, clock);
    if (Status s = writer.Start(); !s) {
      fmt::print(stderr, "{}\n", s.error().message);
      return 1;
    }
    Feeder feeder(writer);
    std::mt19937_64 random(42);
    std::string picture(o.picture, '\0');
    // Every event of the period lies in the past, as received live.
    int64_t day_s = 86'400;
    int64_t t0 = clock.Now() / 1000 - (o.days + 1) * day_s;
    int64_t print_s = static_cast<int64_t>(o.hours * 3600);
    for (int d = 0; d < o.days; ++d) {
      for (int p = 0; p < o.prints; ++p) {
        int64_t start = t0 + d * day_s + p * (day_s / o.prints);
        for (int pct = 0; pct <= 101; ++pct) {
          std::string_view topic = pct == 0     ? "Print Started"
                                   : pct == 101 ? "Print Done"
                                                : "Print Progress";
          int64_t at = start + print_s * std::min(pct, 100) / 100;
          for (char& c : picture) c = static_cast<char>(random());
          picture[0] = '\xff';
          picture[1] = '\xd8';
          feeder.Post(Body(topic, std::min(pct, 100), at), picture,
                      at * 1000 + 200);
          ++events;
        }
      }
    }
    if (Status s = writer.Settle(); !s) {
      fmt::print(stderr, "{}\n", s.error().message);
      return 1;
    }
    writer.Stop();
  }
  std::string path = o.db.substr(o.db.find(':') + 1);
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return 1;
  sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr,
               nullptr);
  int64_t as_left = std::filesystem::file_size(path);
  int64_t kept = SqliteInt(db, "SELECT count(*) FROM pictures");
  int64_t log_bytes = SqliteInt(db, "SELECT sum(length(body)) FROM events");
  sqlite3_exec(db, "VACUUM", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  int64_t vacuumed = std::filesystem::file_size(path);
  fmt::print(
      "{} days, {} prints a day of {} h, {} events with a {}-byte picture, "
      "pictures = \"{}\": {} pictures kept, request bodies {:.1f} MB; "
      "database {:.1f} MB as left, {:.1f} MB after VACUUM\n",
      o.days, o.prints, o.hours, events, o.picture, o.pictures, kept,
      log_bytes / 1e6, as_left / 1e6, vacuumed / 1e6);
  return 0;
}

}  // namespace
}  // namespace pm

int main(int argc, char** argv) {
  pm::Options o;
  CLI::App app{"What one busy printer's webcam pictures cost on disk"};
  app.add_option("--db", o.db, "sqlite:PATH of a new database")->required();
  app.add_option("--days", o.days, "days of printing")->capture_default_str();
  app.add_option("--prints", o.prints, "prints a day")->capture_default_str();
  app.add_option("--hours", o.hours, "hours a print")->capture_default_str();
  app.add_option("--picture", o.picture, "bytes of each picture")
      ->capture_default_str();
  app.add_option("--pictures", o.pictures, "retention rule: prints, all, none")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  return pm::Run(o);
}
