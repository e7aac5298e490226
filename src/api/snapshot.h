// The pictures the plugin sends (the multipart `snapshot` part) and the live
// stream's opening, as read endpoints. api.cc routes to them after the read
// token was checked.
#pragma once

#include <string_view>

#include "api/handlers.h"

namespace pm {

// GET /api/v1/events/{id}/snapshot: the picture stored with that event, with
// its own content type when it is an image type browsers show (jpeg, png,
// gif, webp), else application/octet-stream; never sniffed, never run as a
// page (nosniff, a CSP of "default-src 'none'"). kNotFound when the event
// has no picture, or had one the retention rule did not keep (the message
// says which); kInvalid for an id that is not a positive number.
Result<ApiResponse> GetEventSnapshot(ApiContext& ctx, const ApiCall& call);

// GET /api/v1/sessions/{id}/snapshot: the picture of the session's latest
// event that carried one still kept (the newest view of the print bed).
// kNotFound for an unknown session and for a session with none kept.
Result<ApiResponse> GetSessionSnapshot(ApiContext& ctx, const ApiCall& call);

// The content type a stored picture is served with (see GetEventSnapshot).
std::string_view SnapshotContentType(std::string_view stored);

// The media type of GET /api/v1/stream.
constexpr std::string_view kEventStreamType = "text/event-stream";

// GET /api/v1/stream: the opening of the server-sent event stream (a retry
// hint and a `hello` event). The HTTP server sees the text/event-stream
// answer, keeps the connection and sends an event on every change
// (server.h); this endpoint only checks the token and starts the stream.
Result<ApiResponse> OpenEventStream(ApiContext& ctx, const ApiCall& call);

}  // namespace pm
