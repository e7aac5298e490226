#include "cli/toml_text.h"

#include <fmt/format.h>

namespace pm {
namespace {

// The UTF-8 character at text[i] (a byte >= 0x80): its code point and its
// length in bytes, or length 0 when the bytes there are not UTF-8.
struct Utf8 {
  char32_t code = 0;
  size_t length = 0;
};

Utf8 DecodeAt(std::string_view text, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char first = byte(i);
  size_t length = 0;
  char32_t code = 0;
  char32_t least = 0;
  if (first >= 0xC2 && first <= 0xDF) {
    length = 2, code = first & 0x1F, least = 0x80;
  } else if (first >= 0xE0 && first <= 0xEF) {
    length = 3, code = first & 0x0F, least = 0x800;
  } else if (first >= 0xF0 && first <= 0xF4) {
    length = 4, code = first & 0x07, least = 0x10000;
  } else {
    return {};
  }
  if (i + length > text.size()) return {};
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return {};
    code = (code << 6) | (byte(i + k) & 0x3F);
  }
  if (code < least || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
    return {};
  }
  return {code, length};
}

bool IsAscii(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

class Rewriter {
 public:
  explicit Rewriter(std::string_view text) : text_(text) {}

  Result<std::string> Run() {
    // A byte-order mark (Windows editors write one) means nothing.
    if (text_.starts_with("\xEF\xBB\xBF")) i_ = 3;
    while (i_ < text_.size()) {
      char c = text_[i_];
      Status step;
      if (c == '#') {
        step = Comment();
      } else if (Starts("\"\"\"")) {
        step = Basic(true);
      } else if (Starts("'''")) {
        step = Literal(true);
      } else if (c == '"') {
        step = Basic(false);
      } else if (c == '\'') {
        step = Literal(false);
      } else if (static_cast<unsigned char>(c) >= 0x80) {
        if (!DecodeAt(text_, i_).length) return NotUtf8();
        return Invalid(fmt::format(
            "line {}: a character outside ASCII outside quotes; keys and "
            "values other than strings must be plain ASCII",
            line_));
      } else {
        Copy();
      }
      if (!step) return step.error();
    }
    return std::move(out_);
  }

 private:
  bool Starts(std::string_view s) const {
    return text_.substr(i_, s.size()) == s;
  }

  Error NotUtf8() const {
    return Invalid(fmt::format(
        "line {}: bytes that are not UTF-8; save the file as UTF-8", line_));
  }

  // Copies one ASCII byte, counting lines.
  void Copy() {
    if (text_[i_] == '\n') ++line_;
    out_ += text_[i_++];
  }

  // The character outside ASCII at i_, as a TOML escape (or, in a comment,
  // a space).
  Status Escape(bool comment) {
    Utf8 u = DecodeAt(text_, i_);
    if (!u.length) return NotUtf8();
    i_ += u.length;
    if (comment) {
      out_ += ' ';
    } else if (u.code <= 0xFFFF) {
      out_ += fmt::format("\\u{:04X}", static_cast<uint32_t>(u.code));
    } else {
      out_ += fmt::format("\\U{:08X}", static_cast<uint32_t>(u.code));
    }
    return {};
  }

  Status Comment() {
    while (i_ < text_.size() && text_[i_] != '\n') {
      if (static_cast<unsigned char>(text_[i_]) >= 0x80) {
        if (auto s = Escape(true); !s) return s;
      } else {
        Copy();
      }
    }
    return {};
  }

  // A "basic" string (multi-line when `multi`): its escapes are kept, each
  // character outside ASCII becomes one. An unclosed one is copied as far
  // as it goes, for toml++ to refuse.
  Status Basic(bool multi) {
    size_t quotes = multi ? 3 : 1;
    out_.append(text_.substr(i_, quotes));
    i_ += quotes;
    while (i_ < text_.size()) {
      char c = text_[i_];
      if (!multi && c == '\n') return {};
      if (multi ? Starts("\"\"\"") : c == '"') {
        // A multi-line string may end in up to two quotes of its own.
        while (i_ < text_.size() && text_[i_] == '"') Copy();
        return {};
      }
      if (c == '\\') {
        Copy();
        if (i_ >= text_.size()) return {};
        if (static_cast<unsigned char>(text_[i_]) >= 0x80) {
          return Invalid(fmt::format(
              "line {}: a backslash before a character outside ASCII is not "
              "an escape; write \\\\ for a backslash",
              line_));
        }
        Copy();
      } else if (static_cast<unsigned char>(c) >= 0x80) {
        if (auto s = Escape(false); !s) return s;
      } else {
        Copy();
      }
    }
    return {};
  }

  // A 'literal' string (multi-line when `multi`): copied as it is when all
  // ASCII, else written as the "basic" string of the same value.
  Status Literal(bool multi) {
    std::string_view open = multi ? "'''" : "'";
    size_t start = i_ + open.size();
    size_t end = multi ? text_.find("'''", start)
                       : text_.find_first_of("'\n", start);
    bool closed = end != std::string_view::npos && text_[end] == '\'';
    size_t content_end = closed ? end : text_.size();
    size_t after = content_end;
    if (closed) {
      size_t run = 0;
      while (end + run < text_.size() && text_[end + run] == '\'') ++run;
      if (multi) {
        if (run > 5) {
          return Invalid(fmt::format(
              "line {}: more than two quotes before a string's closing '''",
              line_));
        }
        content_end = end + (run - 3);  // up to two quotes of its own
        after = end + run;
      } else {
        after = end + 1;
      }
    }
    std::string_view content = text_.substr(start, content_end - start);
    if (IsAscii(content)) {
      while (i_ < after) Copy();
      return {};
    }
    if (!closed) {
      return Invalid(fmt::format(
          "line {}: a 'string' that is not closed {}", line_,
          multi ? "by '''" : "on its line"));
    }
    std::string_view quote = multi ? "\"\"\"" : "\"";
    out_.append(quote);
    i_ = start;
    while (i_ < content_end) {
      char c = text_[i_];
      if (c == '\\' || c == '"') {
        out_ += '\\';
        out_ += c;
        ++i_;
      } else if (static_cast<unsigned char>(c) >= 0x80) {
        if (auto s = Escape(false); !s) return s;
      } else {
        Copy();
      }
    }
    out_.append(quote);
    i_ = after;
    return {};
  }

  std::string_view text_;
  size_t i_ = 0;
  int line_ = 1;
  std::string out_;
};

}  // namespace

Result<std::string> AsciiToml(std::string_view text) {
  return Rewriter(text).Run();
}

}  // namespace pm
