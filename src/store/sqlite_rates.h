// The rate history's rows on a SQLite connection (schema 3, rate_history).
#pragma once

#include <vector>

#include "common/result.h"
#include "ledger/cost.h"
#include "store/sqlite_db.h"

namespace pm::sqlite {

// Every row of rate_history, in no particular order.
Result<std::vector<RateChange>> ReadRateChanges(Connection& conn);

}  // namespace pm::sqlite
