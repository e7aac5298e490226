// The one rule for device ids (ledger.md section 2), used wherever an id
// enters printmeter: the receiver's deviceIdentifier and /webhook/{device},
// the config file's [devices.ID] tables and `printmeter devices add|remove`.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.h"

namespace pm {

constexpr size_t kMaxDeviceIdLength = 128;  // characters (code points)

// `raw` trimmed of surrounding whitespace, when that is 1-128 characters
// (code points) without control characters; spaces inside are allowed ("my
// printer", as OctoPrint's plugin lets one type it). Otherwise kInvalid,
// naming the id as `what` ("deviceIdentifier", "device id") and the reason.
Result<std::string> CheckDeviceId(std::string_view raw, std::string_view what);

}  // namespace pm
