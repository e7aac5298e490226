// The dashboard's files: maps a request path onto a file of the built
// dashboard (web/dist) with its content type and cache policy.
//
// Pure and synchronous: no sockets, only reads under `web_root`. The HTTP
// server calls LookupStatic for GET and HEAD requests that no other route
// answers and sends the result as it stands.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace pm {

// One file of the dashboard, ready to send.
struct StaticFile {
  using Headers = std::vector<std::pair<std::string, std::string>>;
  int status = 200;          // 200, or 304 Not Modified (body empty)
  std::string body;          // the file's bytes
  std::string content_type;  // e.g. "text/javascript; charset=utf-8"
  // To send as they stand: Cache-Control, X-Content-Type-Options, and for
  // HTML a Content-Security-Policy that lets the page reach only its own
  // origin (no CDN, no inline script) and Referrer-Policy.
  Headers headers;
};

// The value of header `name` in `file` ("" when absent).
std::string_view HeaderOf(const StaticFile& file, std::string_view name);

// The file that answers `target` (a request target, path and optional query
// string) under `web_root`. "/" and "/index.html" give index.html with
// Cache-Control "no-cache" (a new build must show at once); "/assets/..." are
// Vite's content-hashed files and are "immutable" for a year; other files at
// the root (favicon) are "no-cache".
//
// Refused with kNotFound: anything but the characters [A-Za-z0-9._-/] in the
// path (so "%2e%2e", backslashes and NUL never reach the file system), ".."
// and other segments starting with '.', empty segments, file types the
// dashboard does not use, directories, and files whose real path (symlinks
// resolved) lies outside `web_root`. When index.html itself is missing the
// message says the dashboard is not built and how to build it.
Result<StaticFile> LookupStatic(const std::string& web_root,
                                std::string_view target);

// True when `path` (no query string) is "/" or "/" followed by non-empty
// segments of [A-Za-z0-9._-] that do not start with '.': the only paths the
// dashboard has.
bool IsSafeStaticPath(std::string_view path);

// The Cache-Control, nosniff and (for HTML) Content-Security-Policy and
// Referrer-Policy headers of the file at `path` (see LookupStatic).
StaticFile::Headers StaticHeaders(std::string_view path);

// The content type for a file name by its extension ("" when the dashboard
// never serves that type).
std::string_view StaticContentType(std::string_view file_name);

}  // namespace pm
