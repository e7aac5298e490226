#include "http/embedded_files.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace pm {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// Calls `f` on each comma-separated item of a header value, trimmed.
template <typename F>
void ForEachItem(std::string_view value, F f) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    f(Trim(value.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

// True when Accept-Encoding names gzip (or "*") without "q=0".
bool AcceptsGzip(std::string_view accept_encoding) {
  bool yes = false;
  ForEachItem(accept_encoding, [&](std::string_view item) {
    std::string_view name = Trim(item.substr(0, item.find(';')));
    std::string lower(name);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (lower != "gzip" && lower != "x-gzip" && lower != "*") return;
    size_t q = item.find("q=");
    std::string_view weight =
        q == std::string_view::npos ? "1" : item.substr(q + 2);
    weight = Trim(weight.substr(0, weight.find(';')));
    bool refused = weight.find_first_not_of("0.") == std::string_view::npos;
    yes = yes || !refused;
  });
  return yes;
}

// True when If-None-Match is "*" or lists `etag` (weak or strong, as RFC 9110
// compares for GET).
bool Matches(std::string_view if_none_match, std::string_view etag) {
  bool match = false;
  ForEachItem(if_none_match, [&](std::string_view tag) {
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    match = match || tag == "*" || tag == etag;
  });
  return match;
}

const EmbeddedFile* Find(std::span<const EmbeddedFile> files,
                         std::string_view path) {
  auto it = std::lower_bound(
      files.begin(), files.end(), path,
      [](const EmbeddedFile& f, std::string_view p) { return f.path < p; });
  return it != files.end() && it->path == path ? &*it : nullptr;
}

Error NotEmbedded() {
  return NotFound(
      "this printmeter was built without its dashboard (web/dist did not "
      "exist when it was compiled); run `make build` (it builds the "
      "dashboard first), or start serve with --web-root web/dist");
}

}  // namespace

Result<StaticFile> ServeEmbedded(std::span<const EmbeddedFile> files,
                                 const StaticRequest& request) {
  std::string_view path = request.target.substr(0, request.target.find('?'));
  bool is_index = path == "/" || path == "/index.html";
  bool servable =
      is_index || (IsSafeStaticPath(path) && !StaticContentType(path).empty());
  const EmbeddedFile* file =
      servable ? Find(files, is_index ? "/index.html" : path) : nullptr;
  if (!file && is_index) return NotEmbedded();
  if (!file) {
    return NotFound(
        "no such page or file: " + std::string(path.substr(0, 200)) +
        "; the dashboard is at /");
  }
  StaticFile out;
  out.content_type = std::string(StaticContentType(file->path));
  out.headers = StaticHeaders(file->path);
  bool gzip = !file->gzip.empty() && AcceptsGzip(request.accept_encoding);
  // The gzip copy is another representation: it has its own validator.
  std::string etag(file->etag);
  if (gzip) etag.insert(etag.size() - 1, "-gzip");
  out.headers.emplace_back("ETag", etag);
  if (!file->gzip.empty()) out.headers.emplace_back("Vary", "Accept-Encoding");
  if (Matches(request.if_none_match, etag) ||
      Matches(request.if_none_match, file->etag)) {
    out.status = 304;
    return out;
  }
  if (gzip) out.headers.emplace_back("Content-Encoding", "gzip");
  out.body = std::string(gzip ? file->gzip : file->body);
  return out;
}

}  // namespace pm
