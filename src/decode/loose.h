// Loose values: the Webhooks plugin's typing, read the way it is meant.
//
// The plugin renders its templates with Python: in form encodings every scalar
// is `str()`'d ("True", "1718036225", "None"), and even JSON bodies carry
// strings where numbers or booleans belong (ledger.md section 1). These
// readers accept, at any depth:
//   - booleans: true/false, "True"/"False", "true"/"false";
//   - absent: a missing value, null, "None", "null" and "";
//   - numbers: JSON numbers or numeric strings ("2847.3913402"), finite only
//     (1e400 parses as infinity and is absent, not an error).
// Each takes a possibly-null pointer (a missing member) and never fails: a
// value of the wrong type is simply absent.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pm {

// Whether `v` carries nothing: missing, null, "None", "null" or "".
bool IsAbsent(const boost::json::value* v);

std::optional<bool> LooseBool(const boost::json::value* v);

// A finite number, from a JSON number or a numeric string.
std::optional<double> LooseNumber(const boost::json::value* v);

// A whole number >= 0 that fits in int64 (byte sizes): from an integer, an
// integral double ("1338274.0" too) or a numeric string.
std::optional<int64_t> LooseCount(const boost::json::value* v);

// A string, as sent, except that a NUL becomes U+FFFD (storage cannot hold
// NULs); an integer is written in decimal (a JSON body may send
// `"user": 42`). Booleans, doubles, objects and arrays are absent.
std::optional<std::string> LooseString(const boost::json::value* v);

// The member `key` of `object`, or nullptr when `object` is null or has no
// such member.
inline const boost::json::value* Member(const boost::json::object* object,
                                        std::string_view key) {
  return object ? object->if_contains(key) : nullptr;
}

}  // namespace pm
