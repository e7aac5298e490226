// Mask: a printer's secret out of whatever printmeter shows of a request.
//
// A stored request carries the printer's API secret (`apiSecret` in the body
// or the query string; `Authorization` or `X-Api-Key` headers). Every view
// that shows a request -- the event bodies of the API, logs -- passes it
// through these functions first, so that reading the ledger never yields a
// printer's secret. Pure: no I/O; never throws, never reads out of bounds.
//
// What counts as a secret: a JSON member, form field, multipart part or
// query parameter whose name is one of kSecretNames (ASCII case ignored),
// at any depth (also inside JSON text carried by a form field or a part, as
// the plugin sends nested objects); and the value of a secret-bearing header.
// A secret's value becomes kMasked. An empty value (the plugin's default
// template sends `"apiSecret": ""`) stays empty: it hides nothing, and the
// printers endpoint says as much in `secret_set`. Everything else is kept
// byte for byte, so a masked body still decodes to the same event.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pm {

// What a masked secret reads as.
inline constexpr std::string_view kMasked = "********";

// Whether a field, member or header called `name` carries a secret:
// apiSecret, api_secret, apiKey, api_key, x-api-key, authorization,
// proxy-authorization, cookie, password, secret, token (case ignored).
bool IsSecretName(std::string_view name);

// `body` with its secrets masked, read by its Content-Type as the decoder
// reads it (JSON, also for a body without a type that starts with '{';
// multipart/form-data; x-www-form-urlencoded). nullopt when the body cannot
// be read in its encoding well enough to be sure (broken JSON, a multipart
// body without its boundary, JSON nested deeper than 512 levels), or when a
// body of another type names a secret: such a body must not be shown at all.
// A body of another type that names no secret is returned as it is.
std::optional<std::string> MaskBody(std::string_view content_type,
                                    std::string_view body);

// A request target ("/webhook?apiSecret=s&topic=x") with the secrets of its
// query string masked; the path and the other parameters are kept as sent.
std::string MaskTarget(std::string_view target);

// A header's value, masked when `name` carries a secret: "Bearer ********"
// for an Authorization with a scheme, kMasked otherwise.
std::string MaskHeader(std::string_view name, std::string_view value);

}  // namespace pm
