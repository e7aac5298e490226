#include "ingest/retention.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

namespace pm {

std::vector<int64_t> PicturesToDrop(PictureRetention rule,
                                    const std::vector<KeptPicture>& pictures) {
  std::vector<int64_t> dropped;
  if (rule == PictureRetention::kAll || pictures.empty()) return dropped;
  std::set<int64_t> kept;
  if (rule == PictureRetention::kPrints) {
    auto latest = std::max_element(
        pictures.begin(), pictures.end(),
        [](const auto& a, const auto& b) { return a.event_id < b.event_id; });
    kept.insert(latest->event_id);
    std::map<int64_t, std::pair<EventKey, EventKey>> ends;  // first, last
    for (const KeptPicture& p : pictures) {
      if (!p.session_id) continue;
      auto [it, fresh] = ends.try_emplace(*p.session_id, p.key, p.key);
      it->second.first = std::min(it->second.first, p.key);
      it->second.second = std::max(it->second.second, p.key);
    }
    for (const auto& [session, range] : ends) {
      kept.insert(range.first.id);
      kept.insert(range.second.id);
    }
  }
  for (const KeptPicture& p : pictures) {
    if (!kept.count(p.event_id)) dropped.push_back(p.event_id);
  }
  std::sort(dropped.begin(), dropped.end());
  dropped.erase(std::unique(dropped.begin(), dropped.end()), dropped.end());
  return dropped;
}

}  // namespace pm
