// The dashboard compiled into the binary: web/dist as it was when printmeter
// was built (cmake/EmbedFiles.cmake writes the table), served from memory.
//
// Pure: no file system, no sockets. The HTTP server calls ServeEmbedded for
// GET and HEAD requests that no other route answers, unless `--web-root`
// points it at a directory on disk (static_files.h, for developing the
// dashboard).
#pragma once

#include <span>
#include <string_view>

#include "common/result.h"
#include "http/static_files.h"

namespace pm {

// One file of the embedded dashboard. Views into static storage that lives
// as long as the program.
struct EmbeddedFile {
  std::string_view path;  // "/index.html", "/assets/index-1a2b3c.js"
  std::string_view body;  // the file's bytes
  std::string_view gzip;  // the same, gzip-compressed; empty when not smaller
  std::string_view etag;  // a strong validator, quoted: "\"9f86d081884c\""
};

// The dashboard built into this binary, sorted by path; empty when the
// binary was built before web/dist existed.
std::span<const EmbeddedFile> EmbeddedDashboard();

// What a request asks of a static file.
struct StaticRequest {
  std::string_view target;           // path and optional query string
  std::string_view accept_encoding;  // the Accept-Encoding header, or ""
  std::string_view if_none_match;    // the If-None-Match header, or ""
};

// The answer to `request` from `files`: "/" is "/index.html". The file's
// ETag and `Vary: Accept-Encoding` are always sent, and the cache policy of
// LookupStatic ("no-cache" for the page, a year "immutable" for
// /assets/...; a Content-Security-Policy on HTML). The gzip copy is sent
// (`Content-Encoding: gzip`) when the client accepts gzip; status 304 with
// an empty body when If-None-Match names the file's ETag.
//
// kNotFound for paths LookupStatic refuses (traversal, odd characters,
// unknown types) and for files not in `files`; when index.html itself is
// missing the message says the dashboard was not built into the binary and
// how to get it.
Result<StaticFile> ServeEmbedded(std::span<const EmbeddedFile> files,
                                 const StaticRequest& request);

}  // namespace pm
