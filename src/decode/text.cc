#include "decode/text.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace pm {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

char Lower(char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }

bool IsContinuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// The length of the UTF-8 sequence that starts at text[i], or 0 when it is
// malformed (RFC 3629 section 4).
size_t SequenceLength(std::string_view text, size_t i) {
  const auto at = [&](size_t k) {
    return static_cast<unsigned char>(text[i + k]);
  };
  const unsigned char c = at(0);
  const size_t left = text.size() - i;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    return left >= 2 && IsContinuation(at(1)) ? 2 : 0;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    if (left < 3 || !IsContinuation(at(1)) || !IsContinuation(at(2))) return 0;
    if (c == 0xE0 && at(1) < 0xA0) return 0;   // overlong
    if (c == 0xED && at(1) >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (left < 4 || !IsContinuation(at(1)) || !IsContinuation(at(2)) ||
        !IsContinuation(at(3))) {
      return 0;
    }
    if (c == 0xF0 && at(1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && at(1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

// The first position at or after `from` of `a` or `b` (std::string_view's
// find_first_of calls memchr once per character).
size_t FindEither(std::string_view text, size_t from, char a, char b) {
  for (size_t i = from; i < text.size(); ++i) {
    if (text[i] == a || text[i] == b) return i;
  }
  return std::string_view::npos;
}

// Reads a quoted-string starting at text[i] == '"'; advances i past it.
std::string ReadQuoted(std::string_view text, size_t& i) {
  const size_t close = FindEither(text, i + 1, '"', '\\');
  if (close != std::string_view::npos && text[close] == '"') {  // no escapes
    std::string out(text.substr(i + 1, close - i - 1));
    i = close + 1;
    return out;
  }
  std::string out;
  for (++i; i < text.size(); ++i) {
    char c = text[i];
    if (c == '"') {
      ++i;
      return out;
    }
    if (c == '\\' && i + 1 < text.size()) c = text[++i];
    out.push_back(c);
  }
  return out;  // unterminated: take what there is
}

}  // namespace

std::string_view TrimSpace(std::string_view text) {
  while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
  return text;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(),
                    [](char x, char y) { return Lower(x) == Lower(y); });
}

bool ContainsIgnoreCase(std::string_view text, std::string_view needle) {
  return std::search(text.begin(), text.end(), needle.begin(), needle.end(),
                     [](char x, char y) { return Lower(x) == Lower(y); }) !=
         text.end();
}

bool IsValidUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    // Fast path over ASCII, eight bytes at a time.
    if (i + 8 <= text.size()) {
      uint64_t word;
      std::memcpy(&word, text.data() + i, sizeof word);
      if ((word & 0x8080808080808080ull) == 0) {
        i += 8;
        continue;
      }
    }
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    const size_t n = SequenceLength(text, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

size_t Utf8Length(std::string_view text) {
  return std::count_if(text.begin(), text.end(), [](char c) {
    return !IsContinuation(static_cast<unsigned char>(c));
  });
}

bool HasControlCharacter(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7F;
  });
}

std::string_view MediaType(std::string_view header_value) {
  return TrimSpace(header_value.substr(0, header_value.find(';')));
}

std::optional<std::string> HeaderParam(std::string_view header_value,
                                       std::string_view name) {
  size_t i = header_value.find(';');
  while (i != std::string_view::npos && i < header_value.size()) {
    ++i;  // past ';'
    const size_t eq = FindEither(header_value, i, '=', ';');
    if (eq == std::string_view::npos) return std::nullopt;
    if (header_value[eq] == ';') {  // a parameter without a value
      i = eq;
      continue;
    }
    const bool match =
        EqualsIgnoreCase(TrimSpace(header_value.substr(i, eq - i)), name);
    i = eq + 1;
    while (i < header_value.size() && IsSpace(header_value[i])) ++i;
    if (i < header_value.size() && header_value[i] == '"') {
      std::string value = ReadQuoted(header_value, i);
      if (match) return value;
      i = header_value.find(';', i);
      continue;
    }
    const size_t end = header_value.find(';', i);
    if (match) {
      return std::string(TrimSpace(header_value.substr(
          i,
          end == std::string_view::npos ? std::string_view::npos : end - i)));
    }
    i = end;
  }
  return std::nullopt;
}

std::string Printable(std::string_view text) {
  constexpr size_t kMax = 40;
  std::string out;
  for (char c : text.substr(0, kMax)) {
    out.push_back(c >= 0x20 && c < 0x7F ? c : '?');
  }
  if (text.size() > kMax) out += "...";
  return out;
}

}  // namespace pm
