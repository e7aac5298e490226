// libFuzzer target for Decode (src/decode/decode.h).
//
// Input format: the first line is the Content-Type, the second the request
// target, the rest the body:
//
//   multipart/form-data; boundary=xyz
//   /octoprint/webhook/delta?topic=Print+Done
//   --xyz\r\n...
//
// Besides the sanitizers (address, undefined, leaks), every decoded event is
// checked against what Decode promises, and the masking of secrets
// (decode/mask.h) against its own: a masked request that can be shown
// decodes to the same event. A broken promise aborts.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "decode/decode.h"
#include "decode/mask.h"
#include "decode/text.h"

namespace {

constexpr pm::TimeMs kReceived = 1'700'000'000'123;

std::string_view NextLine(std::string_view& input) {
  const size_t nl = input.find('\n');
  const std::string_view line = input.substr(0, nl);
  input.remove_prefix(nl == std::string_view::npos ? input.size() : nl + 1);
  return line;
}

void Check(bool promise, const char* what) {
  if (!promise) {
    std::fprintf(stderr, "broken promise: %s\n", what);
    std::abort();
  }
}

void CheckDecoded(const pm::Decoded& d) {
  const pm::Event& e = d.event;
  Check(!e.device.empty(), "device is not empty");
  Check(pm::IsValidUtf8(e.device), "device is UTF-8");
  Check(pm::Utf8Length(e.device) <= 128, "device has at most 128 characters");
  Check(!pm::HasControlCharacter(e.device), "device has no control character");
  Check(pm::TrimSpace(e.device) == e.device, "device is trimmed");
  Check(e.id == 0, "id is left to the store");
  Check(e.received_at == kReceived, "received_at is the receive time");
  Check(e.has_current_time ? e.time > 0 && e.time < 32503680000000
                           : e.time == kReceived,
        "time is currentTime before the year 3000, else the receive time");
  Check(e.kind != pm::Kind::kSwept, "swept is never decoded");
  Check(!e.progress_pct || (*e.progress_pct >= 0 && *e.progress_pct <= 100),
        "progress is a percentage");
  for (const auto* amount : {&e.reported_time_s, &e.print_time_s,
                             &e.filament_mm, &e.filament_cm3, &e.estimated_s}) {
    Check(!*amount || **amount >= 0, "amounts are >= 0");
  }
  Check(!e.file.size || *e.file.size >= 0, "file size is >= 0");
  Check(e.snapshot == d.snapshot.has_value(), "snapshot flag matches");
  Check(!d.snapshot || !d.snapshot->bytes.empty(), "a snapshot has bytes");
  for (const auto* text :
       {&e.file.name, &e.file.path, &e.file.display, &e.file.origin, &e.user,
        &e.message, &e.reason, &e.error}) {
    Check(!*text || (!(*text)->empty() && pm::IsValidUtf8(**text) &&
                     (*text)->find('\0') == std::string::npos),
          "text fields are absent or non-empty UTF-8 without NUL");
  }
  Check(pm::IsValidUtf8(e.topic) && e.topic.find('\0') == std::string::npos,
        "topic is UTF-8 without NUL");
}

// Masking changes nothing but the secrets: the masked request decodes to
// the same event (when its body can be shown at all).
void CheckMasked(const pm::Request& request, const pm::Decoded& decoded) {
  const auto body = pm::MaskBody(request.content_type, request.body);
  if (!body) return;
  const std::string target = pm::MaskTarget(request.target);
  pm::Request masked = request;
  masked.body = *body;
  masked.target = target;
  const auto again = pm::Decode(masked);
  Check(again.ok(), "a masked request still decodes");
  Check(again->event == decoded.event, "masking keeps the event");
  Check(again->snapshot.has_value() == decoded.snapshot.has_value(),
        "masking keeps the snapshot");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  pm::Request request;
  request.method = "POST";
  request.content_type = NextLine(input);
  request.target = NextLine(input);
  request.body = input;
  request.received_at = kReceived;
  const auto decoded = pm::Decode(request);
  if (decoded.ok()) {
    CheckDecoded(*decoded);
    CheckMasked(request, *decoded);
  } else {
    Check(!decoded.error().message.empty(), "errors have a message");
    Check(decoded.error().code == pm::ErrorCode::kInvalid ||
              decoded.error().code == pm::ErrorCode::kUnsupported,
          "errors are 400 or 415");
  }
  return 0;
}
