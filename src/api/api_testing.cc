#include "api/api_testing.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <chrono>

#include "store/rate_history.h"
#include "store/write_batch.h"
#include "store/pg_test_cluster.h"

namespace pm::testing {

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  dir_ = std::filesystem::temp_directory_path() /
         ("pm_api_test_" + std::to_string(getpid()) + "_" +
          std::to_string(counter++));
  std::filesystem::create_directories(dir_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string TempDir::Path(const std::string& name) const {
  return (dir_ / name).string();
}

Session ClosedSession(int64_t id, const std::string& device, TimeMs start,
                      int64_t minutes, SessionStatus status) {
  Session s;
  s.id = id;
  s.device = device;
  s.status = status;
  s.started_at = start;
  s.ended_at = start + minutes * kMinuteMs;
  s.last_event_at = *s.ended_at;
  s.opened_by = {start, id};
  s.closed_by = EventKey{*s.ended_at, id + 1};
  s.idle_after = true;
  s.event_count = 2;
  return s;
}

void CommitSessions(Store& store, const std::vector<Session>& sessions) {
  WriteBatch batch;
  batch.sessions = sessions;
  auto s = CommitBatch(store, batch);
  ASSERT_TRUE(s.ok()) << s.error().message;
}

Event MakeEvent(const std::string& device, Kind kind, TimeMs time) {
  Event e;
  e.device = device;
  e.kind = kind;
  static const std::map<Kind, std::string> kTopics = {
      {Kind::kStarted, "Print Started"},
      {Kind::kDone, "Print Done"},
      {Kind::kFailed, "Print Failed"},
      {Kind::kPaused, "Print Paused"},
      {Kind::kResumed, "Print Resumed"},
      {Kind::kProgress, "Print Progress"},
      {Kind::kAttention, "User Action Needed"},
      {Kind::kError, "Error"},
      {Kind::kOther, "Something"}};
  e.topic = kTopics.count(kind) ? kTopics.at(kind) : "Something";
  e.time = time;
  e.has_current_time = true;
  e.received_at = time + 250;
  return e;
}

int64_t Ingester::Ingest(Event e, std::string body) {
  return Record(
      std::move(e),
      StoredRequest{"POST", "/webhook", "application/json", std::move(body)},
      std::nullopt);
}

// The picture travels inside the request, as the plugin sends it; the
// store keeps it apart, as the writer has it do.
int64_t Ingester::IngestWithSnapshot(Event e, Snapshot snapshot) {
  std::string body = fmt::format(
      "--b\r\nContent-Disposition: form-data; name=\"deviceIdentifier\"\r\n"
      "\r\n{}\r\n--b\r\nContent-Disposition: form-data; name=\"topic\"\r\n"
      "\r\n{}\r\n--b\r\nContent-Disposition: form-data; name=\"snapshot\"; "
      "filename=\"snapshot.jpg\"\r\nContent-Type: {}\r\n\r\n",
      e.device, e.topic, snapshot.content_type);
  snapshot.offset = body.size();
  body += snapshot.bytes + "\r\n--b--\r\n";
  e.snapshot = true;
  return Record(std::move(e),
                StoredRequest{"POST", "/webhook",
                              "multipart/form-data; boundary=b", std::move(body)},
                std::move(snapshot));
}

int64_t Ingester::Record(Event e, StoredRequest request,
                         std::optional<Snapshot> snapshot) {
  auto id = store_.AllocateEventIds(1);
  EXPECT_TRUE(id.ok()) << (id.ok() ? "" : id.error().message);
  if (!id) return 0;
  e.id = *id;
  DeviceState& state = states_[e.device];
  state.device = e.device;
  Applied applied = Apply(ledger_, state, e);
  WriteBatch batch;
  EventRecord record;
  record.event = e;
  record.request = std::move(request);
  if (snapshot) SetPictureApart(*record.request, std::move(*snapshot));
  batch.events.push_back(std::move(record));
  if (applied.session_id) batch.event_sessions.emplace_back(e.id, applied.session_id);
  batch.sessions = applied.touched;
  batch.device_states.push_back(state);
  DeviceRecord device;
  device.device = e.device;
  device.first_seen = e.received_at;
  device.last_received = e.received_at;
  batch.devices.push_back(device);
  auto s = CommitBatch(store_, batch);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
  return e.id;
}

ApiFixture::ApiFixture(ApiOptions o, RatesByDevice r)
    : options(std::move(o)), rates(std::move(r)) {
  auto opened = OpenStore(TestStoreUrl(dir.Path("printmeter.db")));
  if (!opened) {
    ADD_FAILURE() << "OpenStore: " << opened.error().message;
    return;
  }
  store = std::move(*opened);
  if (auto history = RecordRates(*store, rates, clock.Now()); !history) {
    ADD_FAILURE() << "RecordRates: " << history.error().message;
  }
  api = MakeApi(*store, options, clock);
}

ApiResponse ApiFixture::Get(const std::string& target, const std::string& token,
                            bool loopback) {
  return Send("GET", target, "", token, loopback);
}

ApiResponse ApiFixture::Send(const std::string& method,
                             const std::string& target, const std::string& body,
                             const std::string& token, bool loopback) {
  std::string authorization = token.empty() ? "" : "Bearer " + token;
  ApiRequest request;
  request.method = method;
  request.target = target;
  request.authorization = authorization;
  request.body = body;
  request.from_loopback = loopback;
  return api->Handle(request);
}

boost::json::value ApiFixture::Json(const ApiResponse& r) {
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  EXPECT_FALSE(ec) << "not JSON: " << r.body;
  return v;
}

std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, in_field = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"' && field.empty()) {
      quoted = in_field = true;
    } else if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
    } else if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      row.push_back(std::move(field));
      field.clear();
      rows.push_back(std::move(row));
      row.clear();
      in_field = false;
    } else {
      field += c;
      in_field = true;
    }
  }
  if (in_field || !field.empty() || !row.empty()) {
    row.push_back(std::move(field));
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace pm::testing
