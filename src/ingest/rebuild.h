// Rebuild: re-derives the whole ledger from the stored event log
// (`printmeter rebuild`).
//
// Every stored request is decoded again (same id, same received_at; swept
// events are taken as stored), duplicates are recomputed in id order, and
// each device is folded from idle over its events in (time, id) order. Then
// the ledger (sessions, device states, event -> session assignments) is reset
// and the result committed in one transaction, together with the event rows
// whose decoded columns or duplicate flag changed (their raw requests stay as
// received): afterwards every row reads as today's decoder and duplicate rule
// make it. Manual user attributions live
// apart from the ledger and survive.
#pragma once

#include <cstdint>
#include <functional>

#include "common/result.h"
#include "decode/decode.h"
#include "ledger/fold.h"
#include "store/store.h"

namespace pm {

struct RebuildStats {
  int64_t events = 0;      // stored events read
  int64_t folded = 0;      // folded into the ledger
  int64_t duplicates = 0;
  int64_t tests = 0;
  int64_t swept = 0;
  int64_t sessions = 0;    // sessions in the rebuilt ledger
  int64_t devices = 0;
  // Requests that decode differently today than when they were stored (a
  // newer decoder): the ledger uses today's reading.
  int64_t redecoded_differently = 0;
  // Stored requests today's decoder refuses: folded as stored.
  int64_t undecodable = 0;
};

// `progress` is called with the number of events read so far.
Result<RebuildStats> Rebuild(Store& store, const LedgerConfig& config,
                             const DecodeLimits& limits,
                             const std::function<void(int64_t)>& progress);

}  // namespace pm
