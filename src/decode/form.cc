#include "decode/form.h"

#include <boost/url/grammar/string_token.hpp>
#include <boost/url/pct_string_view.hpp>

#include "decode/text.h"

namespace pm {
namespace urls = boost::urls;
namespace {

// Percent-decodes `raw` into `out` ('+' is a space when `plus_is_space`).
// false when a '%' is not followed by two hex digits.
bool PercentDecode(std::string_view raw, bool plus_is_space, std::string& out) {
  out.clear();
  const auto checked = urls::make_pct_string_view(raw);
  if (!checked) return false;
  urls::encoding_opts options;
  options.space_as_plus = plus_is_space;
  checked->decode(options, urls::string_token::assign_to(out));
  return true;
}

Error BadEncoding(std::string_view what, std::string_view segment) {
  return Invalid(std::string(what) + " has bad percent-encoding in \"" +
                 Printable(segment) +
                 "\": '%' must be followed by two hex digits");
}

}  // namespace

Status ForEachUrlEncoded(
    std::string_view text, size_t max_fields, std::string_view what,
    bool (*wanted)(std::string_view),
    const std::function<void(std::string_view, std::string_view)>& field) {
  std::string name;
  std::string value;
  size_t count = 0;
  while (!text.empty()) {
    const size_t amp = text.find('&');
    const std::string_view segment = text.substr(0, amp);
    text.remove_prefix(amp == std::string_view::npos ? text.size() : amp + 1);
    if (segment.empty()) continue;
    if (++count > max_fields) {
      return Invalid(std::string(what) + " has more than " +
                     std::to_string(max_fields) + " fields (the limit)");
    }
    const size_t eq = segment.find('=');
    const std::string_view raw_value = eq == std::string_view::npos
                                           ? std::string_view()
                                           : segment.substr(eq + 1);
    if (!PercentDecode(segment.substr(0, eq), true, name)) {
      return BadEncoding(what, segment);
    }
    if (!wanted(name)) continue;
    if (!PercentDecode(raw_value, true, value)) {
      return BadEncoding(what, segment);
    }
    if (!IsValidUtf8(name) || !IsValidUtf8(value)) {
      return Invalid(std::string(what) + " field \"" + Printable(name) +
                     "\" is not valid UTF-8 once decoded");
    }
    field(name, value);
  }
  return {};
}

Target SplitTarget(std::string_view target) {
  // Absolute form: skip "scheme://authority". Only when "://" comes before
  // any '/', '?' or '#': in "/w?a=x://y" or "?a=x://y" it is in the query,
  // which must stay the query (masking a secret there must not turn it
  // into an absolute form, or the other way round).
  if (const size_t scheme = target.find("://");
      scheme != std::string_view::npos &&
      target.find_first_of("/?#") > scheme) {
    const size_t path = target.find_first_of("/?", scheme + 3);
    target = path == std::string_view::npos ? std::string_view()
                                            : target.substr(path);
  }
  const size_t end = target.find('#');
  target = target.substr(0, end);
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
}

Result<std::optional<std::string>> DeviceFromPath(std::string_view path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string_view::npos || slash == 0) {
    return std::optional<std::string>();
  }
  const std::string_view last = path.substr(slash + 1);
  const std::string_view before = path.substr(0, slash);
  const std::string_view parent = before.substr(before.rfind('/') + 1);
  if (parent != "webhook" || last.empty()) return std::optional<std::string>();
  std::string device;
  if (!PercentDecode(last, false, device)) {
    return BadEncoding("the request path", last);
  }
  if (!IsValidUtf8(device)) {
    return Invalid("the device in the request path is not valid UTF-8");
  }
  return std::optional<std::string>(std::move(device));
}

}  // namespace pm
