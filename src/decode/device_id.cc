#include "decode/device_id.h"

#include "decode/text.h"

namespace pm {

Result<std::string> CheckDeviceId(std::string_view raw, std::string_view what) {
  const std::string_view id = TrimSpace(raw);
  const std::string name(what);
  if (id.empty()) return Invalid(name + " is empty");
  if (HasControlCharacter(id)) {
    return Invalid(name + " \"" + Printable(id) +
                   "\" contains a control character");
  }
  if (const size_t length = Utf8Length(id); length > kMaxDeviceIdLength) {
    return Invalid(name + " is " + std::to_string(length) +
                   " characters long; at most " +
                   std::to_string(kMaxDeviceIdLength) + " are allowed");
  }
  return std::string(id);
}

}  // namespace pm
