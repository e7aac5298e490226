#include "store/store.h"

#include <fmt/format.h>

#include <map>
#include <string_view>
#include <unordered_map>

#include "store/pg_store.h"
#include "store/sqlite_store.h"

namespace pm {
namespace {

constexpr std::string_view kSqlitePrefix = "sqlite:";
constexpr std::string_view kAcceptedForms =
    "use sqlite:PATH (e.g. sqlite:printmeter.db) or "
    "postgresql://user:pass@host:port/db";

Result<std::unique_ptr<Store>> OpenSqlite(std::string_view url,
                                          const OpenOptions& options) {
  std::string path(url.substr(kSqlitePrefix.size()));
  if (path.empty()) {
    return Invalid(fmt::format("database URL \"{}\" names no file; {}", url,
                               kAcceptedForms));
  }
  // Each reader thread opens its own connection, which an in-memory
  // database would not share.
  if (path == ":memory:") {
    return Invalid(
        "an in-memory SQLite database cannot be shared by printmeter's "
        "threads; give a file path, e.g. sqlite:printmeter.db");
  }
  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path, options);
  if (!store.ok() && store.error().code == ErrorCode::kNotFound) {
    return NotFound(fmt::format(
        "no database at {}; start `printmeter serve --db {}` first, or "
        "check the path",
        path, url));
  }
  if (!store.ok()) return store.error();
  return std::unique_ptr<Store>(std::move(*store));
}

}  // namespace

void SetPictureApart(StoredRequest& request, Snapshot snapshot) {
  std::string& body = request.body;
  if (snapshot.offset > body.size() ||
      body.compare(snapshot.offset, snapshot.bytes.size(), snapshot.bytes) !=
          0) {
    return;
  }
  body.erase(snapshot.offset, snapshot.bytes.size());
  request.compressed.reset();  // made from the body as it was
  request.picture = StoredPicture{static_cast<int64_t>(snapshot.offset),
                                  static_cast<int64_t>(snapshot.bytes.size()),
                                  std::move(snapshot.content_type),
                                  std::move(snapshot.bytes)};
}

Result<std::vector<EventView>> LedgerReader::SessionEventsPage(
    const SessionEventsQuery& q) {
  auto all = SessionEvents(q.session_id);
  if (!all) return all.error();
  std::vector<EventView> page;
  for (EventView& v : *all) {
    if (static_cast<int>(page.size()) >= q.limit) break;
    std::pair<TimeMs, int64_t> key{v.event.time, v.event.id};
    if (q.after && key <= *q.after) continue;
    page.push_back(std::move(v));
  }
  return page;
}

std::string RedactedUrl(std::string_view url) {
  std::string out(url);
  // Any URL with an authority ("scheme://"), not only PostgreSQL's: a
  // mistyped scheme carries its password all the same.
  if (url.find("://") == std::string_view::npos) return out;
  size_t start = out.find("://") + 3;
  size_t end = out.find_first_of("/?", start);
  size_t at = out.rfind('@', end == std::string::npos ? out.size() : end);
  if (at != std::string::npos && at >= start) {
    size_t colon = out.find(':', start);
    if (colon != std::string::npos && colon < at) {
      out.replace(colon + 1, at - colon - 1, "****");
    }
  }
  for (size_t p = out.find("password="); p != std::string::npos;
       p = out.find("password=", p + 1)) {
    size_t value = p + 9;
    size_t stop = out.find('&', value);
    out.replace(value, (stop == std::string::npos ? out.size() : stop) - value,
                "****");
  }
  return out;
}

Result<std::unique_ptr<Store>> OpenStore(const std::string& url) {
  return OpenStore(url, OpenOptions{});
}

Result<std::unique_ptr<Store>> OpenStore(const std::string& url,
                                         const OpenOptions& options) {
  std::string_view u = url;
  if (u.starts_with(kSqlitePrefix)) return OpenSqlite(u, options);
  if (u.starts_with("postgresql://") || u.starts_with("postgres://")) {
    auto store = PgStore::Open(url, options);
    if (!store.ok()) return store.error();
    return std::unique_ptr<Store>(std::move(*store));
  }
  // A bare file name: say how to name it as a SQLite file.
  if (!u.empty() && u.find(':') == std::string_view::npos) {
    return Invalid(fmt::format(
        "unknown database URL \"{}\": for the SQLite file {} give "
        "sqlite:{}; {}",
        url, url, url, kAcceptedForms));
  }
  return Invalid(fmt::format("unknown database URL \"{}\": {}",
                             RedactedUrl(url), kAcceptedForms));
}

std::vector<const Session*> OpenSessionsToWrite(const ProjectionBatch& batch) {
  std::unordered_map<int64_t, const Session*> written;
  written.reserve(batch.sessions.size());
  for (const Session& s : batch.sessions) written.emplace(s.id, &s);
  std::vector<const Session*> out;
  for (const DeviceState& d : batch.device_states) {
    if (!d.open) continue;
    auto it = written.find(d.open->id);
    if (it == written.end() || !(*it->second == *d.open)) {
      out.push_back(&*d.open);
    }
  }
  return out;
}

std::vector<const Session*> SessionsToWrite(const LedgerPart& part) {
  std::map<int64_t, const Session*> latest;
  for (const Session& s : part.sessions) latest[s.id] = &s;
  for (const DeviceState& d : part.device_states) {
    if (d.open) latest[d.open->id] = &*d.open;
  }
  std::vector<const Session*> out;
  out.reserve(latest.size());
  for (const auto& [id, session] : latest) out.push_back(session);
  return out;
}

}  // namespace pm
