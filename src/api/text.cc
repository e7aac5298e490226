#include "api/text.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace pm {

namespace {

// Length of the UTF-8 sequence starting at s[i], or 0 when it is invalid.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
  if (n == 0 || c > 0xF4 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  unsigned char c1 = byte(i + 1);
  if (c == 0xE0 && c1 < 0xA0) return 0;   // overlong
  if (c == 0xED && c1 >= 0xA0) return 0;  // surrogate
  if (c == 0xF0 && c1 < 0x90) return 0;   // overlong
  if (c == 0xF4 && c1 >= 0x90) return 0;  // beyond U+10FFFF
  return n;
}

size_t DisplayWidth(std::string_view s) {
  size_t width = 0;
  for (size_t i = 0; i < s.size();) {
    size_t n = Utf8SequenceLength(s, i);
    i += n ? n : 1;
    ++width;
  }
  return width;
}

}  // namespace

std::string CleanUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t n = Utf8SequenceLength(text, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string QuoteForMessage(std::string_view text) {
  constexpr size_t kMaxChars = 64;
  std::string out = "\"";
  size_t chars = 0;
  size_t i = 0;
  for (; i < text.size() && chars < kMaxChars; ++chars) {
    size_t n = Utf8SequenceLength(text, i);
    if (n == 0 || static_cast<unsigned char>(text[i]) < 0x20 ||
        text[i] == 0x7f) {
      out += '?';
      i += n ? n : 1;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  if (i < text.size()) out += "...";
  return out + "\"";
}

std::string FormatHoursMinutes(double seconds) {
  if (!(seconds > 0)) return "0m";
  auto minutes = static_cast<int64_t>(std::floor(seconds / 60));
  if (minutes < 60) return fmt::format("{}m", minutes);
  return fmt::format("{}h {:02}m", minutes / 60, minutes % 60);
}

std::string FormatPercent(double ratio) {
  return fmt::format("{:.1f}%", ratio * 100);
}

TextTable::TextTable(std::vector<std::string> header,
                     std::vector<bool> right_align)
    : header_(std::move(header)), right_align_(std::move(right_align)) {
  right_align_.resize(header_.size(), false);
}

void TextTable::AddRow(std::vector<std::string> cells) {
  cells.resize(header_.size());
  rows_.push_back(std::move(cells));
}

void TextTable::AddFooter(std::vector<std::string> cells) {
  cells.resize(header_.size());
  footer_ = std::move(cells);
}

std::string TextTable::Render() const {
  std::vector<size_t> width(header_.size());
  auto widen = [&](const std::vector<std::string>& row) {
    for (size_t c = 0; c < row.size(); ++c) {
      width[c] = std::max(width[c], DisplayWidth(row[c]));
    }
  };
  widen(header_);
  for (const auto& row : rows_) widen(row);
  widen(footer_);

  std::string out;
  auto line = [&](const std::vector<std::string>& row) {
    std::string text;
    for (size_t c = 0; c < row.size(); ++c) {
      std::string pad(width[c] - DisplayWidth(row[c]), ' ');
      if (c > 0) text += "  ";
      text += right_align_[c] ? pad + row[c] : row[c] + pad;
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out += text + "\n";
  };
  auto rule = [&] {
    size_t total = 0;
    for (size_t w : width) total += w;
    out += std::string(total + 2 * (width.size() - 1), '-') + "\n";
  };
  line(header_);
  rule();
  for (const auto& row : rows_) line(row);
  if (!footer_.empty()) {
    rule();
    line(footer_);
  }
  return out;
}

}  // namespace pm
