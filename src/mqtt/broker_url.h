// The broker's URL as the [mqtt] table gives it, read into what libmosquitto
// needs.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace pm {

struct BrokerAddress {
  std::string host;
  int port = 1883;
  std::string user;      // "" for none
  std::string password;  // "" for none; never logged
  bool tls = false;      // mqtts://

  // mqtt[s]://user:****@host:port, for log lines and messages.
  std::string Redacted() const;
};

// mqtt://[user[:password]@]host[:port] (port 1883) or mqtts://... (8883);
// user and password percent-decoded. kInvalid, saying what a good URL looks
// like, for anything else (another scheme, no host, a path, a bad port).
Result<BrokerAddress> ParseBrokerUrl(std::string_view url);

}  // namespace pm
