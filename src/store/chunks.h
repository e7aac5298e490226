// ForEachInChunks: the loop by which both stores read the whole log (for
// rebuild and migrate) a chunk at a time, outside any transaction, so that
// the process holds one chunk and the caller's callback may write to the
// store between chunks.
//
// Internal to src/store/.
#pragma once

#include <cstddef>
#include <optional>
#include <utility>
#include <vector>

#include "common/result.h"

namespace pm {

// `read(last, chunk)` appends to `chunk` up to `size` rows that come after
// `last` in the reading's order (nullptr: from the first), in that order;
// `fn` is then called for each. Ends when a chunk comes back short, or
// with the first error of either. One buffer serves every chunk: a new
// vector each time was mapped, faulted in and unmapped again, a third of
// what `rebuild` spent reading.
template <typename Row, typename Read, typename Fn>
Status ForEachInChunks(size_t size, Read read, Fn fn) {
  std::vector<Row> chunk;
  chunk.reserve(size);
  std::optional<Row> last;
  for (;;) {
    chunk.clear();
    if (Status s = read(last ? &*last : nullptr, chunk); !s.ok()) return s;
    for (const Row& row : chunk) {
      if (Status s = fn(row); !s.ok()) return s;
    }
    if (chunk.size() < size) return {};
    last = std::move(chunk.back());
  }
}

}  // namespace pm
