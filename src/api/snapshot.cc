#include "api/snapshot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "api/text.h"

namespace pm {

namespace {

Result<int64_t> PositiveId(std::string_view text, std::string_view what) {
  int64_t id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || id <= 0) {
    return Invalid(fmt::format("{} id must be a positive whole number; got {}",
                               what, QuoteForMessage(text)));
  }
  return id;
}

ApiResponse Picture(Snapshot snapshot, std::string_view cache) {
  ApiResponse r;
  r.content_type = std::string(SnapshotContentType(snapshot.content_type));
  r.body = std::move(snapshot.bytes);
  r.headers.emplace_back("Cache-Control", std::string(cache));
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Content-Security-Policy", "default-src 'none'");
  return r;
}

}  // namespace

std::string_view SnapshotContentType(std::string_view stored) {
  std::string_view type = stored.substr(0, stored.find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  for (std::string_view known :
       {"image/jpeg", "image/png", "image/gif", "image/webp"}) {
    if (type.size() == known.size() &&
        std::equal(type.begin(), type.end(), known.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == b;
        })) {
      return known;
    }
  }
  return "application/octet-stream";
}

Result<ApiResponse> GetEventSnapshot(ApiContext& ctx, const ApiCall& call) {
  auto id = PositiveId(call.ids.at(0), "event");
  if (!id) return id.error();
  auto snapshot = ctx.store.GetSnapshot(*id);
  if (!snapshot) return snapshot.error();
  if (!snapshot->has_value()) {
    return NotFound(fmt::format(
        "event {} has no snapshot (or no such event); pictures come with the "
        "plugin's multipart requests",
        *id));
  }
  // A stored event's picture never changes.
  return Picture(std::move(**snapshot), "private, max-age=86400, immutable");
}

Result<ApiResponse> GetSessionSnapshot(ApiContext& ctx, const ApiCall& call) {
  auto id = PositiveId(call.ids.at(0), "session");
  if (!id) return id.error();
  auto session = ctx.store.GetSession(*id);
  if (!session) return session.error();
  if (!session->has_value()) {
    return NotFound(fmt::format("no session with id {}", *id));
  }
  auto events = ctx.store.SessionEvents(*id);
  if (!events) return events.error();
  // Newest first; only multipart requests carry a snapshot part. A picture
  // the retention rule let go is passed over for an older one it kept.
  for (auto e = events->rbegin(); e != events->rend(); ++e) {
    if (!e->event.snapshot ||
        e->content_type.find("multipart/") == std::string::npos) {
      continue;
    }
    auto snapshot = ctx.store.GetSnapshot(e->event.id);
    if (!snapshot && snapshot.error().code == ErrorCode::kNotFound) continue;
    if (!snapshot) return snapshot.error();
    if (snapshot->has_value()) {
      ApiResponse r = Picture(std::move(**snapshot), "no-cache");
      r.headers.emplace_back("X-Printmeter-Event", std::to_string(e->event.id));
      return r;
    }
  }
  return NotFound(fmt::format(
      "session {} has no snapshot: none of its requests carried a picture "
      "that is kept",
      *id));
}

Result<ApiResponse> OpenEventStream(ApiContext&, const ApiCall&) {
  ApiResponse r;
  r.content_type = std::string(kEventStreamType);
  // Reconnect after 5 s when the connection drops.
  r.body = "retry: 5000\nevent: hello\ndata: {}\n\n";
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("X-Accel-Buffering", "no");
  return r;
}

}  // namespace pm
