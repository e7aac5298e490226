// Decode (decode.h): request bytes -> fields -> Event, in three steps.
//
//  1. The body becomes one JSON object of top-level fields, whatever its
//     encoding (kEncodings); form fields become JSON strings, so that the
//     loose readers (loose.h) treat "True" and true alike. Query-string
//     fields fill in what the body lacks.
//  2. The nested objects the spec reads (extra, state.flags, job, ...) are
//     resolved once (kNestedObjects); each may be an object, JSON text in a
//     string, or absent.
//  3. kFieldRules fills the event, one row per row of ledger.md section 2;
//     device, time and secret need the request too and come last.
#include "decode/decode.h"

#include <boost/json/object.hpp>
#include <boost/version.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <limits>
#include <vector>

#include "decode/device_id.h"
#include "decode/form.h"
#include "decode/json_text.h"
#include "decode/loose.h"
#include "decode/multipart.h"
#include "decode/text.h"
#include "decoder_hash.h"  // generated: PM_DECODER_SOURCES_HASH

namespace pm {
namespace json = boost::json;
namespace {

// currentTime must be before 3000-01-01T00:00:00Z (in seconds): a larger
// value is a clock in milliseconds or garbage, and the receive time is used.
constexpr double kYear3000Seconds = 32503680000.0;

// How far ahead of the receive time a printer's clock is believed.
constexpr TimeMs kMaxClockAhead = 24 * 3600 * 1000LL;

constexpr std::string_view kAcceptedEncodings =
    "send application/json, multipart/form-data, "
    "application/x-www-form-urlencoded, or the fields in the query string";

Error Unsupported(std::string message) {
  return {ErrorCode::kUnsupported, std::move(message)};
}

// ---------------------------------------------------------------------------
// Step 1: the body's fields.

// The top-level fields the rules below read. Form fields of other names
// (meta, offsets, currentZ, ...) are skipped unread: nothing of them is
// copied, decoded or parsed. A JSON body is parsed whole all the same.
constexpr std::string_view kFieldsRead[] = {
    "deviceIdentifier", "apiSecret", "topic", "message",
    "currentTime",      "extra",     "state", "job",
    "progress",
};

bool IsFieldRead(std::string_view name) {
  for (std::string_view field : kFieldsRead) {
    if (name == field) return true;
  }
  return false;
}

struct BodyContext {
  const Request& request;
  const DecodeLimits& limits;
  JsonReader& reader;
  json::object& fields;               // first value of each field wins
  std::optional<Snapshot>& snapshot;  // the `snapshot` file part
};

Status ReadJsonBody(BodyContext& c) {
  auto value = c.reader.Parse(c.request.body, "body");
  if (!value.ok()) return value.error();
  if (!value->is_object()) {
    return Invalid(
        "body is JSON but not an object: the webhook's fields must be sent as "
        "{\"deviceIdentifier\": ..., \"topic\": ...}");
  }
  c.fields = std::move(value->get_object());
  return {};
}

Status AddPart(BodyContext& c, const MultipartPart& part) {
  if (part.name == "snapshot") {
    if (!c.snapshot && !part.data.empty()) {  // an empty file is no picture
      c.snapshot =
          Snapshot{part.content_type.empty() ? "application/octet-stream"
                                             : part.content_type,
                   std::string(part.data),
                   static_cast<size_t>(part.data.data() -
                                       c.request.body.data())};
    }
    return {};
  }
  if (part.filename || !IsFieldRead(part.name)) return {};
  if (!IsValidUtf8(part.name) || !IsValidUtf8(part.data)) {
    return Invalid("multipart field \"" + Printable(part.name) +
                   "\" is not valid UTF-8");
  }
  c.fields.emplace(part.name, json::string_view(part.data));
  return {};
}

Status ReadMultipartBody(BodyContext& c) {
  const auto boundary = HeaderParam(c.request.content_type, "boundary");
  if (!boundary || boundary->empty()) {
    return Invalid(
        "multipart boundary missing: the Content-Type must say "
        "multipart/form-data; boundary=...");
  }
  auto parts =
      ParseMultipart(c.request.body, *boundary, c.limits.max_multipart_parts);
  if (!parts.ok()) return parts.error();
  for (const MultipartPart& part : *parts) {
    if (Status s = AddPart(c, part); !s) return s;
  }
  return {};
}

Status ReadFormBody(BodyContext& c) {
  return ForEachUrlEncoded(c.request.body, c.limits.max_form_fields,
                           "form body", IsFieldRead,
                           [&](std::string_view name, std::string_view value) {
                             c.fields.emplace(name, value);
                           });
}

// The encodings of ledger.md section 2, by media type (case-insensitive;
// parameters such as charset are ignored).
struct Encoding {
  std::string_view media_type;
  Status (*read)(BodyContext&);
};
constexpr Encoding kEncodings[] = {
    {"application/json", ReadJsonBody},
    {"multipart/form-data", ReadMultipartBody},
    {"application/x-www-form-urlencoded", ReadFormBody},
};

Status ReadBody(BodyContext& c) {
  const std::string_view body = c.request.body;
  if (body.empty()) return {};  // fields, if any, are in the query string
  const std::string_view type = MediaType(c.request.content_type);
  if (type.empty()) {
    if (TrimSpace(body).starts_with('{')) return ReadJsonBody(c);
    return Unsupported("the request has a body but no Content-Type: " +
                       std::string(kAcceptedEncodings));
  }
  for (const Encoding& encoding : kEncodings) {
    if (EqualsIgnoreCase(type, encoding.media_type)) return encoding.read(c);
  }
  return Unsupported("Content-Type \"" + Printable(type) +
                     "\" is not supported: " + std::string(kAcceptedEncodings));
}

Status ReadQuery(std::string_view query, const DecodeLimits& limits,
                 json::object& fields) {
  return ForEachUrlEncoded(query, limits.max_form_fields, "query string",
                           IsFieldRead,
                           [&](std::string_view name, std::string_view value) {
                             fields.emplace(name, value);  // the body wins
                           });
}

// ---------------------------------------------------------------------------
// Step 2: the nested objects the spec reads. Any may be null (absent).

struct Sources {
  const json::object* top = nullptr;
  const json::object* extra = nullptr;
  const json::object* state = nullptr;
  const json::object* flags = nullptr;  // state.flags
  const json::object* job = nullptr;
  const json::object* job_file = nullptr;
  const json::object* filament = nullptr;  // job.filament
  std::vector<const json::object*> tools;  // job.filament.<tool>
  const json::object* progress = nullptr;
};

struct NestedObject {
  const json::object* Sources::*into;
  const json::object* Sources::*parent;
  std::string_view key;
  std::string_view path;  // for error messages
};
constexpr NestedObject kNestedObjects[] = {
    {&Sources::extra, &Sources::top, "extra", "extra"},
    {&Sources::state, &Sources::top, "state", "state"},
    {&Sources::flags, &Sources::state, "flags", "state.flags"},
    {&Sources::job, &Sources::top, "job", "job"},
    {&Sources::job_file, &Sources::job, "file", "job.file"},
    {&Sources::filament, &Sources::job, "filament", "job.filament"},
    {&Sources::progress, &Sources::top, "progress", "progress"},
};

Result<Sources> ResolveSources(const json::object& fields, JsonReader& reader) {
  Sources s;
  s.top = &fields;
  for (const NestedObject& n : kNestedObjects) {
    auto object = reader.Object(Member(s.*n.parent, n.key), n.path);
    if (!object.ok()) return object.error();
    s.*n.into = *object;
  }
  if (s.filament == nullptr) return s;
  for (const auto& [key, value] : *s.filament) {
    auto tool = reader.Object(&value, "job.filament." + std::string(key));
    if (!tool.ok()) return tool.error();
    if (*tool != nullptr) s.tools.push_back(*tool);
  }
  return s;
}

// ---------------------------------------------------------------------------
// Step 3: the event's fields.

std::optional<std::string> Text(const json::object* o, std::string_view key) {
  return LooseString(Member(o, key));
}

// A duration or an amount: a finite number >= 0.
std::optional<double> Amount(const json::object* o, std::string_view key) {
  const auto n = LooseNumber(Member(o, key));
  return n && *n >= 0 ? n : std::nullopt;
}

template <typename T>
std::optional<T> Either(std::optional<T> first, std::optional<T> second) {
  return first ? std::move(first) : std::move(second);
}

// Topics, compared case-insensitively after trimming (ledger.md section 2).
constexpr std::pair<std::string_view, Kind> kTopicKinds[] = {
    {"Print Started", Kind::kStarted},
    {"Print Done", Kind::kDone},
    {"Print Failed", Kind::kFailed},
    {"Print Paused", Kind::kPaused},
    {"Print Resumed", Kind::kResumed},
    {"Print Progress", Kind::kProgress},
    {"User Action Needed", Kind::kAttention},
    {"Error", Kind::kError},
};

Kind KindOf(std::string_view topic, const std::optional<std::string>& message) {
  topic = TrimSpace(topic);
  for (const auto& [name, kind] : kTopicKinds) {
    if (EqualsIgnoreCase(topic, name)) return kind;
  }
  // A "Custom Event" subscribed to PrintResumed says so only in its message.
  if (EqualsIgnoreCase(topic, "Custom Event") && message &&
      ContainsIgnoreCase(*message, "resum")) {
    return Kind::kResumed;
  }
  return Kind::kOther;
}

// extra.progress is a percentage, except that a failure by error reports a
// fraction (0.81 for 81 %); else progress.completion. A value outside 0-100
// is not a percentage and is dropped.
std::optional<double> ProgressPct(const Sources& s, const Event& e) {
  auto pct = LooseNumber(Member(s.extra, "progress"));
  if (pct && e.reason && EqualsIgnoreCase(*e.reason, "error") && *pct <= 1) {
    *pct *= 100;
  }
  if (!pct) pct = LooseNumber(Member(s.progress, "completion"));
  return pct && *pct >= 0 && *pct <= 100 ? pct : std::nullopt;
}

// The job's filament: the sum over tools of job.filament.<tool>.<key>, else
// the flat job.filament.<key>; nullopt when no tool says.
std::optional<double> Filament(const Sources& s, std::string_view key) {
  std::optional<double> sum;
  for (const json::object* tool : s.tools) {
    if (const auto amount = Amount(tool, key)) sum = sum.value_or(0) + *amount;
  }
  if (!sum) sum = Amount(s.filament, key);
  return sum && std::isfinite(*sum) ? sum : std::nullopt;
}

// One row per event field of ledger.md section 2, applied in order (kind
// reads topic and message; progress_pct reads reason).
struct FieldRule {
  std::string_view field;
  void (*fill)(const Sources& s, Event& e);
};
constexpr FieldRule kFieldRules[] = {
    {"topic", [](const Sources& s,
                 Event& e) { e.topic = Text(s.top, "topic").value_or(""); }},
    {"message",
     [](const Sources& s, Event& e) { e.message = Text(s.top, "message"); }},
    {"kind",
     [](const Sources&, Event& e) { e.kind = KindOf(e.topic, e.message); }},
    {"test",
     [](const Sources& s, Event& e) {
       e.test = !IsAbsent(Member(s.extra, "hook_index")) ||
                LooseBool(Member(s.extra, "popup")) == true;
     }},
    {"file.name",
     [](const Sources& s, Event& e) {
       e.file.name = Either(Text(s.extra, "name"), Text(s.job_file, "name"));
     }},
    {"file.path",
     [](const Sources& s, Event& e) {
       e.file.path = Either(Text(s.extra, "path"), Text(s.job_file, "path"));
     }},
    {"file.display",
     [](const Sources& s, Event& e) {
       e.file.display = Text(s.job_file, "display");
     }},
    {"file.origin",
     [](const Sources& s, Event& e) {
       e.file.origin =
           Either(Text(s.extra, "origin"), Text(s.job_file, "origin"));
     }},
    {"file.size",
     [](const Sources& s, Event& e) {
       e.file.size = Either(LooseCount(Member(s.extra, "size")),
                            LooseCount(Member(s.job_file, "size")));
     }},
    {"user",
     [](const Sources& s, Event& e) {
       e.user = Either(Text(s.extra, "user"),
                       Either(Text(s.job, "user"), Text(s.extra, "owner")));
     }},
    {"reported_time_s",
     [](const Sources& s, Event& e) {
       e.reported_time_s = Amount(s.extra, "time");
     }},
    {"reason",
     [](const Sources& s, Event& e) { e.reason = Text(s.extra, "reason"); }},
    {"progress_pct",
     [](const Sources& s, Event& e) { e.progress_pct = ProgressPct(s, e); }},
    {"print_time_s",
     [](const Sources& s, Event& e) {
       e.print_time_s = Amount(s.progress, "printTime");
     }},
    {"print_time_left_s",
     [](const Sources& s, Event& e) {
       e.print_time_left_s = Amount(s.progress, "printTimeLeft");
     }},
    {"filament_mm",
     [](const Sources& s, Event& e) { e.filament_mm = Filament(s, "length"); }},
    {"filament_cm3", [](const Sources& s,
                        Event& e) { e.filament_cm3 = Filament(s, "volume"); }},
    {"estimated_s",
     [](const Sources& s, Event& e) {
       e.estimated_s = Amount(s.job, "estimatedPrintTime");
     }},
    {"error",
     [](const Sources& s, Event& e) { e.error = Text(s.extra, "error"); }},
    {"printing",
     [](const Sources& s, Event& e) {
       e.printing = LooseBool(Member(s.flags, "printing"));
     }},
    {"paused",
     [](const Sources& s, Event& e) {
       e.paused = LooseBool(Member(s.flags, "paused"));
     }},
};

// deviceIdentifier, trimmed, as sent (LooseString would hide a NUL: the
// device is an identity, refused rather than altered); "" when absent.
std::string DeviceField(const json::object& fields) {
  const json::value* field = fields.if_contains("deviceIdentifier");
  if (IsAbsent(field)) return "";
  if (field->is_string()) return std::string(TrimSpace(field->get_string()));
  return LooseString(field).value_or("");  // a number: "deviceIdentifier": 42
}

// deviceIdentifier, else the device in the path, by the one rule for device
// ids (device_id.h).
Result<std::string> DeviceOf(const json::object& fields,
                             std::string_view path) {
  std::string device = DeviceField(fields);
  if (device.empty()) {
    auto from_path = DeviceFromPath(path);
    if (!from_path.ok()) return from_path.error();
    device = std::string(TrimSpace(from_path->value_or("")));
  }
  if (device.empty()) {
    return Invalid(
        "deviceIdentifier is missing: send it as a field, or post to "
        "/webhook/{device}");
  }
  return CheckDeviceId(device, "deviceIdentifier");
}

// currentTime in milliseconds when it is a finite positive number of seconds
// before the year 3000 (rounded to the nearest millisecond) and no later
// than kMaxClockAhead after the receive time (ledger.md section 2: one
// broken printer clock must not make every later event "late").
std::optional<TimeMs> CurrentTimeMs(const json::object& fields,
                                    TimeMs received_at) {
  const auto seconds = LooseNumber(fields.if_contains("currentTime"));
  if (!seconds || *seconds <= 0 || *seconds >= kYear3000Seconds) {
    return std::nullopt;
  }
  const auto time = static_cast<TimeMs>(std::llround(*seconds * 1000));
  if (time > received_at + kMaxClockAhead) return std::nullopt;
  return time;
}

std::optional<std::string> BearerToken(std::string_view authorization) {
  authorization = TrimSpace(authorization);
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() <= kScheme.size() ||
      !EqualsIgnoreCase(authorization.substr(0, kScheme.size()), kScheme)) {
    return std::nullopt;
  }
  const std::string_view token =
      TrimSpace(authorization.substr(kScheme.size()));
  if (token.empty()) return std::nullopt;
  return std::string(token);
}

// apiSecret, else `Authorization: Bearer`, else X-Api-Key. An empty apiSecret
// ("" -- the plugin's default template sends it when no secret is set) is a
// secret too, so that tofu can register such a printer; but a secret in a
// header wins over an empty field, so a printer configured with a header
// secret and the default template is not locked out.
std::optional<std::string> SecretOf(const json::object& fields,
                                    const Request& request) {
  const json::value* field = fields.if_contains("apiSecret");
  if (auto secret = LooseString(field)) return secret;
  if (auto bearer = BearerToken(request.authorization)) return bearer;
  if (const auto key = TrimSpace(request.api_key); !key.empty()) {
    return std::string(key);
  }
  if (field && field->is_string() && field->get_string().empty()) {
    return std::string();
  }
  return std::nullopt;
}

}  // namespace

Result<Decoded> Decode(const Request& request, const DecodeLimits& limits) {
  JsonReader reader(limits.max_json_depth);
  json::object fields(reader.storage());
  Decoded decoded;
  BodyContext body{request, limits, reader, fields, decoded.snapshot};
  if (Status s = ReadBody(body); !s) return s.error();
  const Target target = SplitTarget(request.target);
  if (Status s = ReadQuery(target.query, limits, fields); !s) return s.error();

  auto sources = ResolveSources(fields, reader);
  if (!sources.ok()) return sources.error();
  Event& event = decoded.event;
  for (const FieldRule& rule : kFieldRules) rule.fill(*sources, event);

  auto device = DeviceOf(fields, target.path);
  if (!device.ok()) return device.error();
  event.device = std::move(*device);
  event.received_at = request.received_at;
  const auto current_time = CurrentTimeMs(fields, request.received_at);
  event.has_current_time = current_time.has_value();
  event.time = current_time.value_or(request.received_at);
  event.snapshot = decoded.snapshot.has_value();
  decoded.secret = SecretOf(fields, request);
  decoded.decoder = DecoderId();
  return decoded;
}

int64_t DecoderId() {
  constexpr int64_t kId =
      (PM_DECODER_SOURCES_HASH ^ (int64_t{BOOST_VERSION} << 24)) &
      std::numeric_limits<int64_t>::max();
  return kId == 0 ? 1 : kId;
}

}  // namespace pm
