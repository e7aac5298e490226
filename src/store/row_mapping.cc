#include "store/row_mapping.h"

#include <fmt/format.h>

#include <charconv>

namespace pm::rows {

std::string EncodePauses(const std::vector<Interval>& pauses) {
  std::string out = "[";
  for (const Interval& p : pauses) {
    if (out.size() > 1) out += ',';
    out += fmt::format("[{},{}]", p.begin, p.end);
  }
  return out + "]";
}

std::vector<Interval> DecodePauses(std::string_view text) {
  std::vector<int64_t> numbers;
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    if (*p == '-' || (*p >= '0' && *p <= '9')) {
      int64_t v = 0;
      auto [next, ec] = std::from_chars(p, end, v);
      if (ec != std::errc()) break;
      numbers.push_back(v);
      p = next;
    } else {
      ++p;
    }
  }
  std::vector<Interval> pauses;
  for (size_t i = 0; i + 1 < numbers.size(); i += 2) {
    pauses.push_back({numbers[i], numbers[i + 1]});
  }
  return pauses;
}

}  // namespace pm::rows
