// Text helpers of the read side: safe quoting of client input in messages,
// UTF-8 checks, and the human formats of the terminal (`1h 23m`, `12.5%`,
// aligned tables).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "decode/text.h"  // IsValidUtf8

namespace pm {

// `text` in double quotes for an error message: at most 64 characters,
// control characters and invalid UTF-8 replaced by '?'.
std::string QuoteForMessage(std::string_view text);

// `text` with every byte that is not part of well-formed UTF-8 replaced by
// U+FFFD, so JSON, CSV and metrics served are valid UTF-8.
std::string CleanUtf8(std::string_view text);

// Seconds as hours and minutes, rounded down: "0m", "45m", "1h 23m",
// "1234h 05m".
std::string FormatHoursMinutes(double seconds);

// A ratio as a percentage with one decimal: 0.1234 -> "12.3%".
std::string FormatPercent(double ratio);

// An aligned plain-text table. Columns whose `right_align` entry is true are
// right-aligned (numbers); widths count UTF-8 code points.
class TextTable {
 public:
  TextTable(std::vector<std::string> header, std::vector<bool> right_align);
  void AddRow(std::vector<std::string> cells);
  // A rule followed by this row (totals).
  void AddFooter(std::vector<std::string> cells);
  std::string Render() const;

 private:
  std::vector<std::string> header_;
  std::vector<bool> right_align_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<std::string> footer_;
};

}  // namespace pm
