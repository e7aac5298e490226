// What one AppendJournal record (append_journal.h) holds: the events of one
// append, as SqliteStore will insert them (ids and duplicate flags decided,
// bodies compressed, pictures' bytes), and the printers it registered.
// Encoded with the rows' own column order (row_mapping.h), as a list of
// typed values; Decode is the only reader, and refuses what it did not
// write. Internal to src/store/.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "store/store.h"
#include "store/stored_body.h"

namespace pm::journal {

struct JournaledEvent {
  // request->body is empty: `body` holds it as stored.
  EventRecord record;
  CompressedBody body;
};

struct Batch {
  std::vector<JournaledEvent> events;
  std::vector<DeviceRecord> devices;
};

std::string Encode(const Batch& batch);

// kInvalid for bytes Encode did not write (a damaged record).
Result<Batch> Decode(std::string_view bytes);

}  // namespace pm::journal
