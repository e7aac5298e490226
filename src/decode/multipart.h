// multipart/form-data (RFC 7578 over RFC 2046 section 5.1), as the Webhooks
// plugin sends it through Python's `requests`: CRLF line ends, one
// `Content-Disposition: form-data; name="..."` per part, an optional file
// part (`filename=...`, `Content-Type: image/jpeg`).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pm {

struct MultipartPart {
  std::string name;                     // from Content-Disposition
  std::optional<std::string> filename;  // set for file parts
  std::string content_type;             // "" when the part has none
  std::string_view data;                // the part's bytes, inside the body
};

// Splits `body` into its parts. The preamble before the first boundary and
// the epilogue after the closing one are ignored; part headers other than
// Content-Disposition and Content-Type are ignored; a part without a name is
// kept with an empty name.
//
// Errors (kInvalid, saying what is wrong): no boundary line, a malformed
// boundary or header line, headers that never end, more than `max_parts`
// parts, and a body that ends without its closing `--boundary--`.
Result<std::vector<MultipartPart>> ParseMultipart(std::string_view body,
                                                  std::string_view boundary,
                                                  size_t max_parts);

}  // namespace pm
