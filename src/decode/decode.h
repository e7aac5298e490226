// Decode: one HTTP request from the OctoPrint Webhooks plugin -> Event.
//
// Pure: no I/O, no clock (the receive time is passed in). Implements
// ledger.md section 2: JSON, multipart/form-data (with an optional snapshot
// file part), application/x-www-form-urlencoded and query strings; the
// plugin's loose typing ("True", "None", "", numeric strings) at every depth;
// field fallbacks; test-button detection; topic -> kind. Never throws, never
// reads out of bounds; an error names what is wrong in the request.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "decode/event.h"

namespace pm {

// The request as received. Views must outlive the call only.
struct Request {
  std::string_view method;         // "POST", "PUT", "GET", "DELETE"
  std::string_view target;         // path and query: "/webhook/delta?x=1"
  std::string_view content_type;   // the Content-Type header, "" when absent
  std::string_view authorization;  // the Authorization header, "" when absent
  std::string_view api_key;        // the X-Api-Key header, "" when absent
  std::string_view body;
  TimeMs received_at = 0;
};

// Limits a hostile or broken client cannot get past (ledger.md section 2).
struct DecodeLimits {
  size_t max_json_depth = 64;
  size_t max_multipart_parts = 256;
  size_t max_form_fields = 1024;
};

// The webcam picture of a multipart request's `snapshot` file part.
struct Snapshot {
  std::string content_type;  // "image/jpeg"
  std::string bytes;
  size_t offset = 0;  // where `bytes` start in the request's body
};

struct Decoded {
  Event event;                      // id is 0: the store assigns it
  std::optional<std::string> secret;  // apiSecret, else Bearer, else X-Api-Key
  std::optional<Snapshot> snapshot;
  int64_t decoder = 0;  // the DecoderId() that decoded it (0: not said)
};

// Decodes `request`. Errors are kInvalid (400: names the problem, e.g.
// "deviceIdentifier is missing", "body is not valid JSON at byte 812",
// "multipart boundary missing") or kUnsupported (415: a content type that is
// none of the four encodings).
//
// Where ledger.md is silent (each decision has a test in decode_*_test.cc):
//  - The Content-Type matters only when there is a body; a body without one
//    is JSON when it starts with '{' (after whitespace), else 415.
//  - Secret: a non-empty apiSecret, else the Bearer token, else X-Api-Key,
//    else "" when apiSecret was sent empty (the default template's value, so
//    tofu can register the printer), else nullopt. A header thus wins over
//    an empty apiSecret.
//  - Device: a blank deviceIdentifier falls back to the path; control
//    characters are refused; the 128-character limit counts code points.
//  - currentTime is rounded to the nearest millisecond; one more than 24 h
//    ahead of received_at (exactly 24 h is believed) is not used: the event
//    then has the receive time and has_current_time is false (the body,
//    stored as received, keeps the printer's stamp).
//  - Text fields never hold a NUL: it becomes U+FFFD (storage cannot hold
//    one); a device with one is refused like any control character.
//  - Values that cannot be what they name are absent, not errors: a
//    progress outside 0-100, negative durations, sizes and filament amounts,
//    non-finite or out-of-range numbers (1e400, 100-digit integers).
//  - Inside one JSON object a repeated key keeps its last value (Boost.JSON,
//    Python); among form and query fields the first value wins.
//  - Form fields the ledger does not read (meta, offsets, ...) are skipped
//    unread; a nested object the ledger reads that starts like JSON text but
//    is not valid JSON is a 400 naming the field.
//  - An empty `snapshot` part is no picture; other file parts are ignored.
Result<Decoded> Decode(const Request& request, const DecodeLimits& limits = {});

// This build's decoder: a positive number that changes whenever anything
// that decides how a request reads may have changed (a hash of the
// decoder's sources, taken at build time, and the Boost version it was
// built with). The log stores it with each row it decodes, so that
// `rebuild` decodes again only the rows another decoder read. Two builds
// of the same sources share it; a false difference costs a re-decode only.
int64_t DecoderId();

}  // namespace pm
