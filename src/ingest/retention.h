// Retention of pictures: which of a printer's stored pictures a rule keeps,
// so that a webcam attached to every event keeps the disk bounded. Pure; the
// projector (projector.h) applies it as it folds, in the projection's
// commit. The log keeps saying what every picture was (store.h,
// StoredPicture), so `rebuild` gives the same ledger whatever was let go.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "store/store.h"

namespace pm {

enum class PictureRetention {
  kPrints,  // each print's first and last picture, and each printer's latest
  kAll,     // every picture
  kNone,    // none: the log still says a picture came
};

// The names the configuration uses (inline: the shell's config reads them
// without linking the ingest library).
inline constexpr std::array<std::pair<PictureRetention, std::string_view>, 3>
    kPictureRetentionNames{{
        {PictureRetention::kPrints, "prints"},
        {PictureRetention::kAll, "all"},
        {PictureRetention::kNone, "none"},
    }};

inline std::string_view PictureRetentionName(PictureRetention rule) {
  for (const auto& [r, name] : kPictureRetentionNames) {
    if (r == rule) return name;
  }
  return kPictureRetentionNames[0].second;
}

inline std::optional<PictureRetention> PictureRetentionFromName(
    std::string_view name) {
  for (const auto& [r, n] : kPictureRetentionNames) {
    if (n == name) return r;
  }
  return std::nullopt;
}

// Of `pictures` (one printer's, with their sessions), the event ids whose
// pictures `rule` lets go. Under kPrints each session's first and last
// picture by (time, id) stay, and the one of the greatest id (the printer's
// latest); a picture of no session stays only as the latest.
std::vector<int64_t> PicturesToDrop(PictureRetention rule,
                                    const std::vector<KeptPicture>& pictures);

}  // namespace pm
