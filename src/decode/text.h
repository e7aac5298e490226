// Small text helpers for the decoder: ASCII case folding, trimming, UTF-8
// checks, and the `type/subtype; name=value` syntax of Content-Type and
// Content-Disposition headers (RFC 9110 section 5.6.6).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace pm {

// `text` without leading and trailing spaces, tabs, CRs and LFs.
std::string_view TrimSpace(std::string_view text);

// ASCII case-insensitive comparisons (header names, media types, topics).
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
bool ContainsIgnoreCase(std::string_view text, std::string_view needle);

// Whether `text` is well-formed UTF-8 (no overlong forms, no surrogates,
// nothing above U+10FFFF).
bool IsValidUtf8(std::string_view text);

// The number of code points in `text`, which must be valid UTF-8.
size_t Utf8Length(std::string_view text);

// Whether `text` has a C0 control character or DEL.
bool HasControlCharacter(std::string_view text);

// The media type of a header value ("multipart/form-data" of
// "multipart/form-data; boundary=x"), trimmed; case is kept.
std::string_view MediaType(std::string_view header_value);

// The value of parameter `name` (case-insensitive) in a header value of the
// form `type; a=b; c="d"`: quoted strings are unquoted and unescaped. nullopt
// when the parameter is absent.
std::optional<std::string> HeaderParam(std::string_view header_value,
                                       std::string_view name);

// `text` as it may appear in an error message: at most 40 bytes, anything
// that is not printable ASCII shown as '?'.
std::string Printable(std::string_view text);

}  // namespace pm
