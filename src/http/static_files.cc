#include "http/static_files.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

namespace pm {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kIndex = "index.html";
constexpr std::string_view kAssetsPrefix = "/assets/";
constexpr std::string_view kNoCache = "no-cache";
constexpr std::string_view kImmutable = "public, max-age=31536000, immutable";
// The page talks only to printmeter; inline styles are not used either
// (widths are set through the CSSOM, which CSP allows).
constexpr std::string_view kPagePolicy =
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";
// Larger files are no part of a dashboard; refuse rather than load them.
constexpr std::uintmax_t kMaxFileBytes = 16u << 20;

struct ContentType {
  std::string_view extension;
  std::string_view type;
};

constexpr ContentType kContentTypes[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".json", "application/json"},
    {".webmanifest", "application/manifest+json"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
};

bool IsSafeChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' || c == '/';
}

}  // namespace

bool IsSafeStaticPath(std::string_view path) {
  if (path == "/") return true;
  if (path.empty() || path.front() != '/') return false;
  for (char c : path) {
    if (!IsSafeChar(c)) return false;
  }
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view segment = path.substr(start, end - start);
    if (segment.empty() || segment.front() == '.') return false;
    start = end + 1;
  }
  return true;
}

StaticFile::Headers StaticHeaders(std::string_view path) {
  StaticFile::Headers headers;
  bool immutable = path.starts_with(kAssetsPrefix);
  headers.emplace_back("Cache-Control", immutable ? kImmutable : kNoCache);
  headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (path == "/" || path.ends_with(".html")) {
    headers.emplace_back("Content-Security-Policy", kPagePolicy);
    headers.emplace_back("Referrer-Policy", "no-referrer");
  }
  return headers;
}

namespace {

Error NoSuchFile(std::string_view path) {
  return NotFound("no such page or file: " + std::string(path.substr(0, 200)) +
                  "; the dashboard is at /");
}

Error NotBuilt(const std::string& web_root) {
  return NotFound("the dashboard is not built: " + web_root +
                  "/index.html is missing; run `make web` (or "
                  "scripts/build-web.sh), or point --web-root at a built "
                  "dashboard");
}

// True when `file`, symlinks resolved, lies inside `root`.
bool IsInside(const fs::path& root, const fs::path& file) {
  std::error_code ec;
  fs::path real_root = fs::canonical(root, ec);
  if (ec) return false;
  fs::path real_file = fs::canonical(file, ec);
  if (ec) return false;
  auto [r, f] = std::mismatch(real_root.begin(), real_root.end(),
                              real_file.begin(), real_file.end());
  return r == real_root.end();
}

Result<std::string> ReadWhole(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return NotFound("not a file");
  auto size = fs::file_size(file, ec);
  if (ec || size > kMaxFileBytes) return NotFound("unreadable or too large");
  std::ifstream in(file, std::ios::binary);
  if (!in) return NotFound("cannot open");
  std::string body((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  if (in.bad()) return NotFound("cannot read");
  return body;
}

}  // namespace

std::string_view StaticContentType(std::string_view file_name) {
  for (const ContentType& t : kContentTypes) {
    if (file_name.ends_with(t.extension)) return t.type;
  }
  return "";
}

Result<StaticFile> LookupStatic(const std::string& web_root,
                                std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  if (!IsSafeStaticPath(path)) return NoSuchFile(path);
  bool is_index = path == "/" || path == "/index.html";
  std::string relative =
      is_index ? std::string(kIndex) : std::string(path.substr(1));
  std::string_view type = StaticContentType(relative);
  if (type.empty()) return NoSuchFile(path);

  fs::path root(web_root);
  fs::path file = root / relative;
  if (!IsInside(root, file)) {
    return is_index ? NotBuilt(web_root) : NoSuchFile(path);
  }
  auto body = ReadWhole(file);
  if (!body) return is_index ? NotBuilt(web_root) : NoSuchFile(path);

  return StaticFile{200, std::move(*body), std::string(type),
                    StaticHeaders(is_index ? "/index.html" : path)};
}

std::string_view HeaderOf(const StaticFile& file, std::string_view name) {
  for (const auto& [key, value] : file.headers) {
    if (key == name) return value;
  }
  return "";
}

}  // namespace pm
