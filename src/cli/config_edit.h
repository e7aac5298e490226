// Edits of a config file's text for `printmeter devices add|remove` that
// change only the lines of one [devices.ID] table and keep every other byte
// (comments, key order, "2h" durations, decimals) as the user wrote it.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace pm {

// A key of a device table and its value as TOML text ("1.5", "\"abc\"").
using TomlSetting = std::pair<std::string, std::string>;

// `text` with these keys of the [devices.ID] table set: a key's line is
// replaced where the table has it, else added after the table's last line;
// a table that does not exist is appended at the end. `text` must be valid
// TOML (the error names the line); a device defined other than by a
// [devices.ID] header (an inline table, dotted keys) is kInvalid, asking to
// edit the file by hand. `path` is for messages.
Result<std::string> SetDeviceKeys(std::string_view text, std::string_view path,
                                  std::string_view id,
                                  const std::vector<TomlSetting>& keys);

// `text` without the [devices.ID] table (its header and its lines; the
// comments just above the next table stay with it). kNotFound when the file
// has no such table.
Result<std::string> RemoveDeviceTable(std::string_view text,
                                      std::string_view path,
                                      std::string_view id);

// TOML text of a string value: a basic string, escaped.
std::string TomlString(std::string_view value);
// TOML text of a number: the shortest decimal that reads back the same
// ("0.05", "1.5", "2").
std::string TomlNumber(double value);

// Replaces the file at `path` with `text` atomically (a temporary file in
// the same directory, renamed over it), keeping the file's permissions (it
// holds secrets). A missing file is created with mode 0600.
Status WriteFileAtomically(const std::string& path, const std::string& text);

}  // namespace pm
