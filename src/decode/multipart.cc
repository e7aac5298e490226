#include "decode/multipart.h"

#include "decode/text.h"

namespace pm {
namespace {

constexpr std::string_view kCrlf = "\r\n";

std::string PartLabel(size_t index) {
  return "multipart part " + std::to_string(index + 1);
}

// Reads the header lines of one part (`headers` has no trailing CRLF).
Status ReadPartHeaders(std::string_view headers, size_t index,
                       MultipartPart& part) {
  while (!headers.empty()) {
    const size_t eol = headers.find(kCrlf);
    const std::string_view line = headers.substr(0, eol);
    headers.remove_prefix(eol == std::string_view::npos ? headers.size()
                                                        : eol + 2);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      return Invalid(PartLabel(index) + " has a malformed header line \"" +
                     Printable(line) + "\"");
    }
    const std::string_view name = TrimSpace(line.substr(0, colon));
    const std::string_view value = TrimSpace(line.substr(colon + 1));
    if (EqualsIgnoreCase(name, "Content-Disposition")) {
      part.name = HeaderParam(value, "name").value_or("");
      part.filename = HeaderParam(value, "filename");
    } else if (EqualsIgnoreCase(name, "Content-Type")) {
      part.content_type = std::string(value);
    }
  }
  return {};
}

// After a delimiter: "--" closes the body; otherwise optional transport
// padding (spaces, tabs) and CRLF. Sets `closed`, advances `pos`.
Status AfterDelimiter(std::string_view body, size_t& pos, bool& closed) {
  if (body.substr(pos, 2) == "--") {
    closed = true;
    return {};
  }
  while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
  if (body.substr(pos, 2) != kCrlf) {
    return Invalid(
        "multipart boundary line is malformed: a boundary must be followed by "
        "CRLF or \"--\"");
  }
  pos += 2;
  return {};
}

}  // namespace

Result<std::vector<MultipartPart>> ParseMultipart(std::string_view body,
                                                  std::string_view boundary,
                                                  size_t max_parts) {
  const std::string delimiter = "--" + std::string(boundary);
  const std::string next_delimiter = "\r\n" + delimiter;
  size_t pos = 0;
  if (body.substr(0, delimiter.size()) != delimiter) {
    pos = body.find(next_delimiter);
    if (pos == std::string_view::npos) {
      return Invalid("multipart body has no boundary line \"" +
                     Printable(delimiter) +
                     "\": the Content-Type's boundary does not match the body");
    }
    pos += 2;
  }
  std::vector<MultipartPart> parts;
  parts.reserve(16);  // the plugin's default template sends 12 or 13
  for (;;) {
    pos += delimiter.size();
    bool closed = false;
    if (Status s = AfterDelimiter(body, pos, closed); !s) return s.error();
    if (closed) return parts;
    if (parts.size() == max_parts) {
      return Invalid("multipart body has more than " +
                     std::to_string(max_parts) + " parts (the limit)");
    }
    MultipartPart& part = parts.emplace_back();
    const size_t index = parts.size() - 1;
    // Headers end at an empty line; a part may have no headers at all.
    size_t content = pos;
    if (body.substr(pos, 2) == kCrlf) {
      content = pos + 2;
    } else {
      const size_t end = body.find("\r\n\r\n", pos);
      if (end == std::string_view::npos) {
        return Invalid(
            PartLabel(index) +
            " has headers that never end (no empty line; truncated body?)");
      }
      if (Status s = ReadPartHeaders(body.substr(pos, end - pos), index, part);
          !s) {
        return s.error();
      }
      content = end + 4;
    }
    const size_t end = body.find(next_delimiter, content);
    if (end == std::string_view::npos) {
      return Invalid("multipart body ends without its closing boundary \"" +
                     Printable(delimiter) + "--\" (truncated body?)");
    }
    part.data = body.substr(content, end - content);
    pos = end + 2;
  }
}

}  // namespace pm
