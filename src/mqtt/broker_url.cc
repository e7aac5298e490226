#include "mqtt/broker_url.h"

#include <fmt/format.h>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <charconv>

namespace pm {

namespace {

constexpr std::string_view kExample =
    "a URL like mqtt://user:password@broker.local:1883 (or mqtts:// for TLS)";

Error BadUrl(std::string_view why) {
  return Invalid(fmt::format("[mqtt] url: {}; write {}", why, kExample));
}

}  // namespace

std::string BrokerAddress::Redacted() const {
  std::string who;
  if (!user.empty()) who = password.empty() ? user + "@" : user + ":****@";
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return fmt::format("{}://{}{}:{}", tls ? "mqtts" : "mqtt", who, h, port);
}

Result<BrokerAddress> ParseBrokerUrl(std::string_view text) {
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) return BadUrl("not a URL");
  const boost::urls::url_view& u = *parsed;
  BrokerAddress a;
  if (u.scheme() == "mqtts") {
    a.tls = true;
    a.port = 8883;
  } else if (u.scheme() != "mqtt") {
    return BadUrl(fmt::format("the scheme must be mqtt or mqtts, not {}",
                              std::string(u.scheme())));
  }
  a.host = u.host_address();  // decoded; an IPv6 address without brackets
  if (a.host.empty()) return BadUrl("no broker host");
  if ((!u.path().empty() && u.path() != "/") || u.has_query() ||
      u.has_fragment()) {
    return BadUrl("a broker URL has no path, query or fragment");
  }
  if (u.has_port()) {
    std::string_view p = u.port();
    int port = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
    if (p.empty() || ec != std::errc() || end != p.data() + p.size() ||
        port < 1 || port > 65535) {
      return BadUrl(fmt::format("port {} is not a number from 1 to 65535",
                                std::string(p)));
    }
    a.port = port;
  }
  if (u.has_userinfo()) {
    a.user = u.user();
    if (u.has_password()) a.password = u.password();
    if (a.user.empty()) return BadUrl("a password without a user name");
  }
  return a;
}

}  // namespace pm
