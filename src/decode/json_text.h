// JsonReader: strict JSON parsing (RFC 8259) under the decoder's limits, into
// one arena per request.
//
// Parse errors name the byte offset and the cause in words ("body is not
// valid JSON at byte 812: unexpected 'N' (NaN and Infinity are not JSON)").
// Nesting deeper than the limit is refused by the parser itself, so a
// 10,000-deep body cannot exhaust the stack. Values live in the reader's
// arena: they must not outlive it.
#pragma once

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <deque>
#include <string_view>

#include "common/result.h"

namespace pm {

class JsonReader {
 public:
  explicit JsonReader(size_t max_depth);
  JsonReader(const JsonReader&) = delete;
  JsonReader& operator=(const JsonReader&) = delete;

  // The arena, for values the caller builds (form fields as JSON strings).
  const boost::json::storage_ptr& storage() const { return storage_; }

  // Parses `text` as exactly one JSON value. `what` names the text in the
  // error ("body", "field 'extra'"); the error is kInvalid.
  Result<boost::json::value> Parse(std::string_view text,
                                   std::string_view what);

  // The object `v` holds: an object, or a string of JSON text that holds one
  // (a form field, or a template that quoted a nested object); the text is
  // parsed into the arena. nullptr when `v` is null, absent or anything else
  // (SD prints send "" for whole objects; a query string degrades `extra` to
  // the bare word "name"). An error when the text starts like an object but
  // is not valid JSON; `what` names it ("extra", "job.file").
  Result<const boost::json::object*> Object(const boost::json::value* v,
                                            std::string_view what);

 private:
  static constexpr size_t kArenaBytes = 16 * 1024;

  size_t max_depth_;
  alignas(std::max_align_t) unsigned char arena_[kArenaBytes];
  boost::json::monotonic_resource resource_;
  boost::json::storage_ptr storage_;
  unsigned char parser_temp_[BOOST_JSON_STACK_BUFFER_SIZE];
  boost::json::parser parser_;
  std::deque<boost::json::value> nested_;  // objects parsed from strings
};

}  // namespace pm
