#include "decode/mask.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "decode/multipart.h"
#include "decode/text.h"

namespace pm {
namespace {

constexpr std::string_view kSecretNames[] = {
    "apiSecret",     "api_secret",          "apiKey", "api_key",  "x-api-key",
    "authorization", "proxy-authorization", "cookie", "password", "secret",
    "token",
};

// Deeper JSON than the decoder accepts (64 levels) is still masked; beyond
// this the body is not shown.
constexpr int kMaxDepth = 512;
// More parts than the decoder accepts (256) are still masked.
constexpr size_t kMaxParts = 100000;

// Bytes [begin, end) of a text replaced by `with`.
struct Edit {
  size_t begin = 0;
  size_t end = 0;
  std::string with;
};

std::string ApplyEdits(std::string_view text, std::vector<Edit> edits) {
  std::sort(edits.begin(), edits.end(),
            [](const Edit& a, const Edit& b) { return a.begin < b.begin; });
  std::string out;
  out.reserve(text.size());
  size_t at = 0;
  for (const Edit& e : edits) {
    out.append(text.substr(at, e.begin - at));
    out.append(e.with);
    at = e.end;
  }
  out.append(text.substr(at));
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool LooksLikeJson(std::string_view text) {
  text = TrimSpace(text);
  return !text.empty() && (text.front() == '{' || text.front() == '[');
}

bool NamesASecret(std::string_view text) {
  for (std::string_view name : kSecretNames) {
    if (ContainsIgnoreCase(text, name)) return true;
  }
  return false;
}

// A JSON scanner that records where secret members' values are. It accepts
// what RFC 8259 accepts, and a little more (it does not check numbers or
// literals letter by letter): masking must not fail where decoding worked.
class JsonScanner {
 public:
  explicit JsonScanner(std::string_view text) : s_(text) {}

  // Whether `s_` is one JSON value; the secrets' value spans go to edits().
  bool Scan() {
    SkipSpace();
    if (!Value(0)) return false;
    SkipSpace();
    return pos_ == s_.size();
  }
  std::vector<Edit>& edits() { return edits_; }

 private:
  bool Value(int depth) {
    if (depth > kMaxDepth || pos_ >= s_.size()) return false;
    char c = s_[pos_];
    if (c == '{') return Object(depth + 1);
    if (c == '[') return Array(depth + 1);
    if (c == '"') return String(nullptr);
    return Scalar();
  }

  bool Object(int depth) {
    ++pos_;  // '{'
    SkipSpace();
    if (Eat('}')) return true;
    for (;;) {
      std::string key;
      SkipSpace();
      if (!String(&key)) return false;
      SkipSpace();
      if (!Eat(':')) return false;
      SkipSpace();
      size_t begin = pos_;
      if (!Value(depth)) return false;
      std::string_view value = s_.substr(begin, pos_ - begin);
      if (IsSecretName(key) && value != "\"\"" && value != "null") {
        edits_.push_back({begin, pos_, "\"" + std::string(kMasked) + "\""});
      }
      SkipSpace();
      if (Eat('}')) return true;
      if (!Eat(',')) return false;
    }
  }

  bool Array(int depth) {
    ++pos_;  // '['
    SkipSpace();
    if (Eat(']')) return true;
    for (;;) {
      SkipSpace();
      if (!Value(depth)) return false;
      SkipSpace();
      if (Eat(']')) return true;
      if (!Eat(',')) return false;
    }
  }

  // A string token; its text (escapes undone, non-ASCII \u escapes as '?')
  // goes to `decoded` when given.
  bool String(std::string* decoded) {
    if (!Eat('"')) return false;
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '"') return true;
      if (c != '\\') {
        if (decoded) decoded->push_back(c);
        continue;
      }
      if (pos_ >= s_.size()) return false;
      char e = s_[pos_++];
      if (e == 'u') {
        if (pos_ + 4 > s_.size()) return false;
        uint32_t code = 0;
        for (int i = 0; i < 4; ++i) {
          int d = HexValue(s_[pos_++]);
          if (d < 0) return false;
          code = code * 16 + static_cast<uint32_t>(d);
        }
        if (decoded) decoded->push_back(code < 0x80 ? char(code) : '?');
      } else if (decoded) {
        decoded->push_back(Unescape(e));
      }
    }
    return false;
  }

  bool Scalar() {
    size_t begin = pos_;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      bool part = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                  (c >= 'A' && c <= 'Z') || c == '-' || c == '+' || c == '.';
      if (!part) break;
      ++pos_;
    }
    return pos_ > begin;
  }

  static char Unescape(char e) {
    switch (e) {
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case 'r':
        return '\r';
      case 'b':
        return '\b';
      case 'f':
        return '\f';
      default:
        return e;  // '"', '\\', '/'
    }
  }

  bool Eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void SkipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' ||
                                s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
  std::vector<Edit> edits_;
};

std::optional<std::string> MaskJson(std::string_view text) {
  JsonScanner scanner(text);
  if (!scanner.Scan()) return std::nullopt;
  if (scanner.edits().empty()) return std::string(text);
  return ApplyEdits(text, std::move(scanner.edits()));
}

// A value carried in a form field or a part: JSON text (the plugin's nested
// objects) is masked inside. Text that only looks like JSON is kept as
// sent: it holds no members, and the decoder reads it as text or not at all
// (it refuses broken JSON in the fields it reads as objects).
std::string MaskNested(std::string_view value) {
  if (!LooksLikeJson(value)) return std::string(value);
  if (auto masked = MaskJson(value)) return std::move(*masked);
  return std::string(value);
}

bool PercentDecode(std::string_view raw, std::string& out) {
  out.clear();
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c != '%') {
      out.push_back(c);
    } else {
      if (i + 2 >= raw.size()) return false;
      int hi = HexValue(raw[i + 1]);
      int lo = HexValue(raw[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    }
  }
  return true;
}

std::string PercentEncode(std::string_view text) {
  constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    bool plain = (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') ||
                 (u >= 'A' && u <= 'Z') || u == '-' || u == '.' || u == '_' ||
                 u == '*' || u == '~';
    if (plain) {
      out.push_back(c);
    } else if (u == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

// name=value&... (a form body or a query string) with its secrets masked;
// nullopt on bad percent-encoding in a name (which the decoder refuses too).
// A value with bad percent-encoding is kept as sent: nothing reads it.
std::optional<std::string> MaskUrlEncoded(std::string_view text) {
  std::vector<Edit> edits;
  std::string name;
  std::string value;
  size_t at = 0;
  while (at <= text.size()) {
    size_t amp = text.find('&', at);
    if (amp == std::string_view::npos) amp = text.size();
    std::string_view segment = text.substr(at, amp - at);
    size_t eq = segment.find('=');
    if (!segment.empty() && eq != std::string_view::npos) {
      if (!PercentDecode(segment.substr(0, eq), name)) return std::nullopt;
      size_t begin = at + eq + 1;
      std::string_view raw = text.substr(begin, amp - begin);
      bool decoded = PercentDecode(raw, value);
      if (IsSecretName(name)) {
        if (!raw.empty()) edits.push_back({begin, amp, std::string(kMasked)});
      } else if (decoded && LooksLikeJson(value)) {
        std::string masked = MaskNested(value);
        if (masked != value)
          edits.push_back({begin, amp, PercentEncode(masked)});
      }
    } else if (!segment.empty() && !PercentDecode(segment, name)) {
      return std::nullopt;
    }
    at = amp + 1;
  }
  return ApplyEdits(text, std::move(edits));
}

std::optional<std::string> MaskMultipart(std::string_view content_type,
                                         std::string_view body) {
  auto boundary = HeaderParam(content_type, "boundary");
  if (!boundary || boundary->empty()) return std::nullopt;
  auto parts = ParseMultipart(body, *boundary, kMaxParts);
  if (!parts.ok()) return std::nullopt;
  std::vector<Edit> edits;
  for (const MultipartPart& part : *parts) {
    size_t begin = static_cast<size_t>(part.data.data() - body.data());
    size_t end = begin + part.data.size();
    if (IsSecretName(part.name)) {
      if (!part.data.empty())
        edits.push_back({begin, end, std::string(kMasked)});
      continue;
    }
    if (part.filename) continue;  // a picture, not a field
    std::string masked = MaskNested(part.data);
    if (masked != part.data) edits.push_back({begin, end, std::move(masked)});
  }
  return ApplyEdits(body, std::move(edits));
}

}  // namespace

bool IsSecretName(std::string_view name) {
  name = TrimSpace(name);
  for (std::string_view secret : kSecretNames) {
    if (EqualsIgnoreCase(name, secret)) return true;
  }
  return false;
}

std::optional<std::string> MaskBody(std::string_view content_type,
                                    std::string_view body) {
  if (body.empty()) return std::string();
  std::string_view type = MediaType(content_type);
  if (EqualsIgnoreCase(type, "application/json") ||
      (type.empty() && TrimSpace(body).starts_with('{'))) {
    return MaskJson(body);
  }
  if (EqualsIgnoreCase(type, "multipart/form-data")) {
    return MaskMultipart(content_type, body);
  }
  if (EqualsIgnoreCase(type, "application/x-www-form-urlencoded")) {
    return MaskUrlEncoded(body);
  }
  // Not an encoding the receiver reads: shown as is unless it may hold one.
  if (!NamesASecret(body)) return std::string(body);
  if (LooksLikeJson(body)) return MaskJson(body);
  return std::nullopt;
}

std::string MaskTarget(std::string_view target) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return std::string(target);
  size_t hash = target.find('#', q);
  std::string_view query = target.substr(q + 1, hash == std::string_view::npos
                                                    ? std::string_view::npos
                                                    : hash - q - 1);
  std::string out(target.substr(0, q + 1));
  auto masked = MaskUrlEncoded(query);
  out += masked ? *masked : std::string(kMasked);
  return out;  // the fragment, never sent by a client, is dropped
}

std::string MaskHeader(std::string_view name, std::string_view value) {
  if (!IsSecretName(name)) return std::string(value);
  std::string_view trimmed = TrimSpace(value);
  size_t space = trimmed.find(' ');
  if (EqualsIgnoreCase(TrimSpace(name), "authorization") &&
      space != std::string_view::npos) {
    return std::string(trimmed.substr(0, space + 1)) + std::string(kMasked);
  }
  return std::string(kMasked);
}

}  // namespace pm
