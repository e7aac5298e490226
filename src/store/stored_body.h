// Request bodies as the SQLite log keeps them: compressed with zlib when
// that saves an eighth or more, else as received.
//
// Why: the body is most of a log row (a 2.4 KB OctoPrint webhook against
// ~250 bytes of decoded columns), and the log is kept for ever. Deflated,
// that webhook is ~880 bytes, so three rows share a 4 KiB page instead of
// one row having a page to itself: the database grows ~half as fast, and
// each append writes fewer pages (a new page costs the page, its parent and
// the file's header page in the WAL), which on a Raspberry Pi's SD card is
// wear. Level 1: 12 us for that body on the machine of docs/benchmarks.md,
// 5 us to read it back.
//
// The format is SQLite's own archive convention (sqlar): `body` holds zlib
// data and `body_size` the size as received; a body whose size equals
// body_size is stored as is. So the stock sqlite3 shell reads a request
// with `SELECT sqlar_uncompress(body, body_size) FROM events`. Rows logged
// before schema 8 have body_size NULL: as received.
//
// PostgreSQL compresses large values itself (TOAST); its store does not use
// this.
//
// Fails: UncompressBody() returns a kInternal Error when the bytes are not
// zlib data of that size (a damaged file); CompressBody() cannot fail: what
// zlib will not compress is kept as received.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace pm {

struct CompressedBody {
  std::string bytes;  // zlib data, or the body as received
  int64_t size = 0;   // the body's size as received
};

// Thread-safe (each thread keeps its own zlib state).
CompressedBody CompressBody(std::string_view body);

// The body as received. `size` NULL (a row from before schema 8) or equal
// to bytes.size(): the bytes are the body.
Result<std::string> UncompressBody(std::string bytes,
                                   std::optional<int64_t> size);

}  // namespace pm
