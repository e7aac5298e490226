// Rebuild: re-derives the whole ledger from the stored event log
// (`printmeter rebuild`, and `migrate` after copying a log).
//
// Two passes over the log, so that memory does not grow with it:
// 1. in id order, every stored request that another decoder read is
//    decoded again (same id, same received_at; swept events are taken as
//    stored); a row whose decoded columns differ today (a newer decoder) is
//    rewritten, its raw request kept as received. Rows this build's decoder
//    read (or checked in an earlier rebuild) are passed over: their bodies
//    are not even read;
// 2. by printer, in key order (time, id): the duplicate rule is applied
//    again (a row whose flag changes is rewritten too) and each printer is
//    folded from idle over its events.
// The new ledger (sessions, device states, event -> session assignments)
// replaces the old one in ONE transaction (Store::RewriteLedger), written a
// part of a few hundred printers at a time as the second pass folds them,
// with the duplicate flags it changes: afterwards every row reads as today's
// decoder and duplicate rule make it, and the ledger is their fold. Manual
// user attributions live apart from the ledger and survive.
//
// Memory: one chunk of the log, one printer's events and one part of the
// new ledger; the store keeps the rest of it until the commit (SQLite: in
// temporary tables on disk). Rows the first pass rewrites are committed a
// few thousand at a time, before the ledger: a rebuild that fails half way
// leaves some rows rewritten and the old ledger in place, and the next
// rebuild finishes the job.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

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
  // Stored requests decoded again: those another decoder read (an older
  // printmeter, a copied log). The rest were read by this one already.
  int64_t decoded_again = 0;
  // Rows of the stored ledger (sessions, links, printer states) written or
  // deleted because they differed from the fold; nullopt when the store
  // wrote the whole ledger anew (an empty one, or PostgreSQL).
  std::optional<int64_t> ledger_rows_changed;
};

// `progress(phase, done)`: phase "reading" (the first pass) counts how far
// into the log it got (the id of the last event it read or passed over),
// then "folding" (the second) the events folded; both end at about the
// number of events in the log. May be empty.
using RebuildProgress = std::function<void(const char* phase, int64_t done)>;
// `decode_all`: the first pass decodes every stored request again, those
// this decoder read too (`printmeter rebuild --decode-all`); otherwise only
// those another decoder read (DecoderId(), Store::ForEachEventToDecode).
Result<RebuildStats> Rebuild(Store& store, const LedgerConfig& config,
                             const DecodeLimits& limits,
                             const RebuildProgress& progress,
                             bool decode_all = false);

}  // namespace pm
