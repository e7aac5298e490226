// URL-encoded fields: `application/x-www-form-urlencoded` bodies and query
// strings (WHATWG URL "application/x-www-form-urlencoded parsing"), and the
// request target's path.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace pm {

// Calls `field(name, value)` for each `name=value` of `text` in order whose
// name `wanted` accepts, both percent-decoded with '+' as a space. A segment
// without '=' is a name with an empty value; empty segments ("a=1&&b=2") are
// skipped. Values of unwanted fields are not decoded, only counted. The
// views passed to `field` are valid during the call only.
//
// Errors (kInvalid, naming `what`, e.g. "form body", "query string"): more
// than `max_fields` fields; a '%' not followed by two hex digits; a wanted
// name or value that is not valid UTF-8 once decoded.
Status ForEachUrlEncoded(
    std::string_view text, size_t max_fields, std::string_view what,
    bool (*wanted)(std::string_view name),
    const std::function<void(std::string_view name, std::string_view value)>&
        field);

// A request target split into its parts: "/webhook/delta?x=1" ->
// {"/webhook/delta", "x=1"}. An absolute-form target ("http://host/path?q")
// yields its path and query too.
struct Target {
  std::string_view path;
  std::string_view query;
};
Target SplitTarget(std::string_view target);

// The device named by a path ending `.../webhook/{device}`: the receiver may
// sit under any prefix (the fixtures post to /octoprint/webhook), so this is
// the last segment when the one before it is `webhook`; percent-decoded.
// nullopt when the path does not end that way; an error when the segment has
// bad percent-encoding or is not UTF-8.
Result<std::optional<std::string>> DeviceFromPath(std::string_view path);

}  // namespace pm
