#include "decode/test_request.h"

#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "decode/text.h"

namespace pm::testing {
namespace json = boost::json;
namespace {

// Python's repr() of a float: shortest round-trip digits, ".0" when integral.
std::string PythonFloat(double d) {
  char buffer[64];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, d);
  std::string text(buffer, end);
  if (text.find_first_of(".en") == std::string::npos) text += ".0";
  return text;
}

// Python's str() of a JSON value as the plugin would have had it.
std::string PythonStr(const json::value& v) {
  switch (v.kind()) {
    case json::kind::bool_:
      return v.get_bool() ? "True" : "False";
    case json::kind::int64:
      return std::to_string(v.get_int64());
    case json::kind::uint64:
      return std::to_string(v.get_uint64());
    case json::kind::double_:
      return PythonFloat(v.get_double());
    case json::kind::string:
      return std::string(v.get_string());
    default:
      return json::serialize(v);  // objects, arrays: json.dumps()
  }
}

}  // namespace

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::abort();
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

Request OwnedRequest::View(TimeMs received_at) const {
  return Request{method,  target, content_type, authorization,
                 api_key, body,   received_at};
}

OwnedRequest ParseRawHttp(std::string_view raw) {
  OwnedRequest r;
  const size_t head_end = raw.find("\r\n\r\n");
  std::string_view head = raw.substr(0, head_end);
  r.body = head_end == std::string_view::npos
               ? std::string()
               : std::string(raw.substr(head_end + 4));
  const size_t eol = head.find("\r\n");
  const std::string_view line = head.substr(0, eol);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = line.find(' ', sp1 + 1);
  r.method = std::string(line.substr(0, sp1));
  r.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  head.remove_prefix(eol == std::string_view::npos ? head.size() : eol + 2);
  while (!head.empty()) {
    const size_t end = head.find("\r\n");
    const std::string_view header = head.substr(0, end);
    head.remove_prefix(end == std::string_view::npos ? head.size() : end + 2);
    const size_t colon = header.find(':');
    const std::string_view name = header.substr(0, colon);
    const std::string value(TrimSpace(header.substr(colon + 1)));
    if (EqualsIgnoreCase(name, "Content-Type")) r.content_type = value;
    if (EqualsIgnoreCase(name, "Authorization")) r.authorization = value;
    if (EqualsIgnoreCase(name, "X-Api-Key")) r.api_key = value;
    if (EqualsIgnoreCase(name, "Content-Length")) {
      r.content_length = std::stoul(value);
    }
  }
  return r;
}

FieldList PluginFields(std::string_view json_body) {
  FieldList fields;
  const json::value body = json::parse(json_body);
  for (const auto& [key, value] : body.as_object()) {
    if (value.is_null()) continue;  // requests drops None fields
    fields.emplace_back(std::string(key), PythonStr(value));
  }
  return fields;
}

std::string FormEncode(const FieldList& fields) {
  const auto quote_plus = [](std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
      if (std::isalnum(c) || c == '_' || c == '.' || c == '-' || c == '~') {
        out.push_back(static_cast<char>(c));
      } else if (c == ' ') {
        out.push_back('+');
      } else {
        char hex[4];
        std::snprintf(hex, sizeof hex, "%%%02X", c);
        out += hex;
      }
    }
    return out;
  };
  std::string body;
  for (const auto& [name, value] : fields) {
    if (!body.empty()) body += '&';
    body += quote_plus(name) + "=" + quote_plus(value);
  }
  return body;
}

std::string MultipartEncode(const FieldList& fields, std::string_view boundary,
                            const std::optional<std::string>& snapshot) {
  const std::string delimiter = "--" + std::string(boundary);
  std::string body;
  for (const auto& [name, value] : fields) {
    body += delimiter + "\r\nContent-Disposition: form-data; name=\"" + name +
            "\"\r\n\r\n" + value + "\r\n";
  }
  if (snapshot) {
    body += delimiter +
            "\r\nContent-Disposition: form-data; name=\"snapshot\"; "
            "filename=\"snapshot.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n" +
            *snapshot + "\r\n";
  }
  return body + delimiter + "--\r\n";
}

OwnedRequest AsJson(std::string body) {
  OwnedRequest r;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

OwnedRequest AsForm(std::string_view json_body) {
  OwnedRequest r;
  r.content_type = "application/x-www-form-urlencoded";
  r.body = FormEncode(PluginFields(json_body));
  return r;
}

OwnedRequest AsMultipart(std::string_view json_body,
                         const std::optional<std::string>& snapshot) {
  constexpr std::string_view kBoundary = "7ccfe79c895e56dffe3aef3f156015fd";
  OwnedRequest r;
  r.content_type = "multipart/form-data; boundary=" + std::string(kBoundary);
  r.body = MultipartEncode(PluginFields(json_body), kBoundary, snapshot);
  return r;
}

OwnedRequest AsQuery(std::string_view json_body, std::string method) {
  OwnedRequest r;
  r.method = std::move(method);
  r.target = "/webhook?" + FormEncode(PluginFields(json_body));
  return r;
}

}  // namespace pm::testing
