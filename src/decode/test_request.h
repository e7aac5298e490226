// Test and benchmark helpers: fixture files, raw HTTP requests, and the
// Webhooks plugin's three form encodings of a JSON body, built the way the
// plugin builds them (Python `requests`): scalars as Python str(), nested
// objects as json.dumps() text, None fields dropped.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "decode/decode.h"

namespace pm::testing {

// The bytes of `path`; aborts the test binary when it cannot be read.
std::string ReadFile(const std::string& path);

// A request held in owned strings; View() gives the decoder's Request.
struct OwnedRequest {
  std::string method = "POST";
  std::string target = "/webhook";
  std::string content_type;
  std::string authorization;
  std::string api_key;
  std::string body;
  std::optional<size_t> content_length;  // from a raw request's header

  Request View(TimeMs received_at) const;
};

// Parses a whole raw HTTP/1.1 request (request line, CRLF headers, body).
// The body is everything after the empty line; Content-Length is kept so
// that a test can check the two agree.
OwnedRequest ParseRawHttp(std::string_view raw);

// The fields the plugin sends for a JSON body, in order: (name, text) with
// text as Python str() of scalars or json.dumps() of objects and arrays;
// null members dropped. `json_body` must be a JSON object.
using FieldList = std::vector<std::pair<std::string, std::string>>;
FieldList PluginFields(std::string_view json_body);

// urlencode(fields) as Python's urllib does (quote_plus).
std::string FormEncode(const FieldList& fields);

// A multipart/form-data body as `requests` builds it, with an optional
// `snapshot` file part (snapshot.jpg, image/jpeg) last.
std::string MultipartEncode(const FieldList& fields, std::string_view boundary,
                            const std::optional<std::string>& snapshot);

// A JSON body re-encoded the plugin's ways, ready to decode.
OwnedRequest AsJson(std::string body);
OwnedRequest AsForm(std::string_view json_body);
OwnedRequest AsMultipart(std::string_view json_body,
                         const std::optional<std::string>& snapshot);
OwnedRequest AsQuery(std::string_view json_body, std::string method = "GET");

}  // namespace pm::testing
