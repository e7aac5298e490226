#include "decode/json_text.h"

#include <boost/json/error.hpp>
#include <string>

#include "decode/text.h"

namespace pm {
namespace json = boost::json;
namespace {

json::parse_options Options(size_t max_depth) {
  json::parse_options options;
  options.max_depth = max_depth;
  return options;  // RFC 8259: no comments, no trailing commas, strict UTF-8
}

// Why a syntax error happened, from the byte the parser stopped at.
std::string SyntaxReason(std::string_view text, size_t at) {
  if (at >= text.size()) return "unexpected end";
  const unsigned char c = static_cast<unsigned char>(text[at]);
  constexpr char kHex[] = "0123456789abcdef";
  const std::string hex = {kHex[c >> 4], kHex[c & 0xF]};
  if (c >= 0x80) return "invalid UTF-8, or a stray byte 0x" + hex;
  if (c < 0x20) return "control character 0x" + hex + " (escape it in strings)";
  if (c == 'N' || c == 'I') {
    return std::string("unexpected '") + char(c) +
           "' (NaN and Infinity are not JSON)";
  }
  return std::string("unexpected '") + char(c) + "'";
}

std::string Reason(const json::error_code& ec, std::string_view text, size_t at,
                   size_t max_depth) {
  if (ec == json::error::syntax) return SyntaxReason(text, at);
  if (ec == json::error::incomplete) return "the text ends too early";
  if (ec == json::error::extra_data) return "unexpected data after the value";
  if (ec == json::error::too_deep) {
    return "nested deeper than the limit of " + std::to_string(max_depth) +
           " levels";
  }
  return ec.message();
}

}  // namespace

JsonReader::JsonReader(size_t max_depth)
    : max_depth_(max_depth),
      resource_(arena_, sizeof arena_),
      storage_(&resource_),
      parser_(storage_, Options(max_depth), parser_temp_, sizeof parser_temp_) {
}

Result<json::value> JsonReader::Parse(std::string_view text,
                                      std::string_view what) {
  parser_.reset(storage_);
  json::error_code ec;
  const size_t at = parser_.write(text.data(), text.size(), ec);
  if (!ec) {
    return parser_.release();
  }
  return Invalid(std::string(what) + " is not valid JSON at byte " +
                 std::to_string(at) + ": " + Reason(ec, text, at, max_depth_));
}

Result<const json::object*> JsonReader::Object(const json::value* v,
                                               std::string_view what) {
  if (v == nullptr) return static_cast<const json::object*>(nullptr);
  if (v->is_object()) return &v->get_object();
  if (!v->is_string()) return static_cast<const json::object*>(nullptr);
  const std::string_view text = v->get_string();
  if (TrimSpace(text).substr(0, 1) != "{") {
    return static_cast<const json::object*>(nullptr);
  }
  auto parsed = Parse(text, "field '" + std::string(what) + "'");
  if (!parsed.ok()) return parsed.error();
  nested_.push_back(std::move(*parsed));
  return &nested_.back().get_object();
}

}  // namespace pm
