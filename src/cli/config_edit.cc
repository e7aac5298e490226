#include "cli/config_edit.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>

#include "cli/toml_text.h"

namespace pm {
namespace {

// The file as lines, each with its line end ("" for a last line without).
std::vector<std::string> SplitLines(std::string_view text) {
  std::vector<std::string> lines;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    end = end == std::string_view::npos ? text.size() : end + 1;
    lines.emplace_back(text.substr(begin, end - begin));
    begin = end;
  }
  return lines;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += l;
  return out;
}

std::string_view Trimmed(std::string_view line) {
  size_t b = line.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  size_t e = line.find_last_not_of(" \t\r\n");
  return line.substr(b, e - b + 1);
}

bool IsHeader(std::string_view line) { return Trimmed(line).starts_with('['); }

// The line end the file uses ("\r\n" when its first line has one).
std::string LineEnd(const std::vector<std::string>& lines) {
  if (!lines.empty() && lines[0].ends_with("\r\n")) return "\r\n";
  return "\n";
}

bool IsBareKey(std::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

std::string HeaderFor(std::string_view id) {
  return fmt::format("[devices.{}]",
                     IsBareKey(id) ? std::string(id) : TomlString(id));
}

// Where a device's table is, in 0-based line numbers.
struct TableSpan {
  size_t header = 0;
  size_t last = 0;  // the last line of its last key's value
  // Each key's lines [first, last].
  std::vector<std::pair<std::string, std::pair<size_t, size_t>>> keys;
  // The header lines of its own tables written apart, further down the
  // file: [[devices.ID.maintenance]], [devices.ID.x].
  std::vector<size_t> subtables;
};

Result<toml::table> Parse(std::string_view text, std::string_view path) {
  auto ascii = AsciiToml(text);
  if (!ascii) {
    return Invalid(
        fmt::format("config file {}: {}", path, ascii.error().message));
  }
  try {
    return toml::parse(*ascii, path);
  } catch (const toml::parse_error& e) {
    return Invalid(fmt::format("config file {}: line {}, column {}: {}", path,
                               e.source().begin.line, e.source().begin.column,
                               e.description()));
  }
}

// The table of `id`, or nullopt when the file has none.
Result<std::optional<TableSpan>> FindTable(
    const toml::table& root, const std::vector<std::string>& lines,
    std::string_view path, std::string_view id) {
  const toml::table* devices = root["devices"].as_table();
  const toml::node* node = devices ? devices->get(id) : nullptr;
  if (!node) return std::optional<TableSpan>();
  const toml::table* table = node->as_table();
  size_t header = node->source().begin.line - 1;
  if (!table || table->is_inline() || header >= lines.size() ||
      !IsHeader(lines[header])) {
    return Invalid(fmt::format(
        "config file {}: device \"{}\" is not written as a [devices.ID] "
        "table (line {}); edit that file by hand",
        path, id, header + 1));
  }
  TableSpan span{header, header, {}, {}};
  for (const auto& [key, value] : *table) {
    // A table or array of tables under its own header is not among the
    // lines of [devices.ID]: new keys must not go into it.
    const toml::table* sub = value.as_table();
    if (sub && !sub->is_inline()) {
      span.subtables.push_back(sub->source().begin.line - 1);
      continue;
    }
    const toml::array* array = value.as_array();
    if (array && array->is_array_of_tables() && !array->empty() &&
        !array->front().as_table()->is_inline()) {
      for (const toml::node& element : *array) {
        span.subtables.push_back(element.source().begin.line - 1);
      }
      continue;
    }
    size_t first = key.source().begin.line - 1;
    size_t last = value.source().end.line - 1;
    span.keys.push_back({std::string(key.str()), {first, last}});
    span.last = std::max(span.last, last);
  }
  return std::optional<TableSpan>(span);
}

}  // namespace

std::string TomlString(std::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          out += fmt::format("\\u{:04X}", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string TomlNumber(double value) { return fmt::format("{}", value); }

Result<std::string> SetDeviceKeys(std::string_view text, std::string_view path,
                                  std::string_view id,
                                  const std::vector<TomlSetting>& keys) {
  auto root = Parse(text, path);
  if (!root) return root.error();
  std::vector<std::string> lines = SplitLines(text);
  auto span = FindTable(*root, lines, path, id);
  if (!span) return span.error();
  const std::string nl = LineEnd(lines);
  if (!*span) {
    std::string out(text);
    if (!out.empty() && !out.ends_with('\n')) out += nl;
    if (!out.empty()) out += nl;
    out += HeaderFor(id) + nl;
    for (const auto& [key, value] : keys) out += key + " = " + value + nl;
    return out;
  }
  // Replace keys from the bottom up, so earlier line numbers stay valid;
  // new keys go after the table's last line.
  std::vector<std::string> added;
  std::vector<std::pair<std::pair<size_t, size_t>, std::string>> replaced;
  for (const auto& [key, value] : keys) {
    auto it = std::find_if((*span)->keys.begin(), (*span)->keys.end(),
                           [&](const auto& k) { return k.first == key; });
    if (it == (*span)->keys.end()) {
      added.push_back(key + " = " + value + nl);
      continue;
    }
    const std::string& first = lines[it->second.first];
    std::string indent(first.substr(0, first.find_first_not_of(" \t")));
    replaced.push_back({it->second, indent + key + " = " + value + nl});
  }
  std::string& table_end = lines[(*span)->last];
  if (!added.empty() && !table_end.ends_with('\n')) table_end += nl;
  lines.insert(lines.begin() + static_cast<long>((*span)->last) + 1,
               added.begin(), added.end());
  std::sort(replaced.begin(), replaced.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  for (const auto& [range, line] : replaced) {
    lines.erase(lines.begin() + static_cast<long>(range.first),
                lines.begin() + static_cast<long>(range.second) + 1);
    lines.insert(lines.begin() + static_cast<long>(range.first), line);
  }
  return Join(lines);
}

Result<std::string> RemoveDeviceTable(std::string_view text,
                                      std::string_view path,
                                      std::string_view id) {
  auto root = Parse(text, path);
  if (!root) return root.error();
  std::vector<std::string> lines = SplitLines(text);
  auto span = FindTable(*root, lines, path, id);
  if (!span) return span.error();
  if (!*span) {
    return NotFound(fmt::format("device \"{}\" is not in {}", id, path));
  }
  // Its table and the tables of its own further down ([[devices.ID.
  // maintenance]]), each from its header to the next header, removed from
  // the bottom up so that earlier line numbers stay valid.
  std::vector<std::pair<size_t, size_t>> ranges;
  auto section = [&](size_t header, size_t last) {
    size_t end = last + 1;  // one past the lines removed
    while (end < lines.size() && !IsHeader(lines[end])) ++end;
    // Comments right above the next table (no blank line between) are its.
    size_t keep = end;
    while (keep > last + 1 && Trimmed(lines[keep - 1]).starts_with('#')) {
      --keep;
    }
    ranges.push_back({header, std::min(end, keep)});
  };
  section((*span)->header, (*span)->last);
  for (size_t header : (*span)->subtables) section(header, header);
  std::sort(ranges.begin(), ranges.end(), std::greater<>());
  for (const auto& [first, end] : ranges) {
    lines.erase(lines.begin() + static_cast<long>(first),
                lines.begin() + static_cast<long>(end));
  }
  return Join(lines);
}

Status WriteFileAtomically(const std::string& path, const std::string& text) {
  struct stat st {};
  mode_t mode = stat(path.c_str(), &st) == 0 ? st.st_mode & 07777 : 0600;
  std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  auto fail = [&](const char* what) {
    Error e = Invalid(
        fmt::format("cannot {} {}: {}", what, tmp, std::strerror(errno)));
    if (fd >= 0) close(fd);
    unlink(tmp.c_str());
    return e;
  };
  if (fd < 0) return fail("create");
  if (fchmod(fd, mode) != 0) return fail("set the permissions of");
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("write");
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) return fail("write");
  close(fd);
  fd = -1;
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    Error e = Invalid(
        fmt::format("cannot replace {}: {}", path, std::strerror(errno)));
    unlink(tmp.c_str());
    return e;
  }
  return {};
}

}  // namespace pm
