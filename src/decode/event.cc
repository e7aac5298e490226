#include "decode/event.h"

#include <array>
#include <utility>

namespace pm {
namespace {

constexpr std::array<std::pair<Kind, std::string_view>, 10> kKindNames{{
    {Kind::kStarted, "started"},
    {Kind::kDone, "done"},
    {Kind::kFailed, "failed"},
    {Kind::kPaused, "paused"},
    {Kind::kResumed, "resumed"},
    {Kind::kProgress, "progress"},
    {Kind::kAttention, "attention"},
    {Kind::kError, "error"},
    {Kind::kOther, "other"},
    {Kind::kSwept, "swept"},
}};

}  // namespace

std::string_view KindName(Kind kind) {
  for (const auto& [k, name] : kKindNames) {
    if (k == kind) return name;
  }
  return "other";
}

std::optional<Kind> KindFromName(std::string_view name) {
  for (const auto& [k, n] : kKindNames) {
    if (n == name) return k;
  }
  return std::nullopt;
}

}  // namespace pm
